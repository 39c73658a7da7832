// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IAnchorRegistry} from "./interfaces/IAnchorRegistry.sol";

/// @title AnchorRegistry
/// @notice The anchoring primitive: one storage slot per Merkle batch, the time it was anchored.
contract AnchorRegistry is IAnchorRegistry, AccessControl {
    /// @notice Role of the nodes allowed to anchor batches.
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");
    /// @notice Version of this contract's interface and storage.
    string public constant VERSION = "1.0.0";

    mapping(bytes32 root => uint64 time) private _anchoredAt;

    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IAnchorRegistry
    function anchor(bytes32 root, uint32 leafCount) external onlyRole(ANCHORER_ROLE) {
        if (root == bytes32(0) || leafCount == 0) revert InvalidBatch(root, leafCount);
        uint64 existing = _anchoredAt[root];
        if (existing != 0) revert RootAlreadyAnchored(root, existing);
        uint64 time = uint64(block.timestamp);
        _anchoredAt[root] = time;
        emit Anchored(root, leafCount, time);
    }

    /// @inheritdoc IAnchorRegistry
    function anchoredAt(bytes32 root) external view returns (uint64) {
        return _anchoredAt[root];
    }

    /// @inheritdoc IAnchorRegistry
    function verifyDocument(bytes32 root, bytes32 docHash, bytes32[] calldata proof)
        external
        view
        returns (uint64 anchoredAt_)
    {
        anchoredAt_ = _anchoredAt[root];
        if (anchoredAt_ == 0) return 0;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(docHash))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) return 0;
    }
}
