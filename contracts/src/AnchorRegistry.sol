// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {
    AccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IAnchorRegistry} from "./interfaces/IAnchorRegistry.sol";

/// @title AnchorRegistry
/// @notice The anchoring primitive: one storage slot per Merkle batch holding when and by whom it was
///         anchored; anchors count only if made by an `ANCHORER_ROLE` holder during its term.
/// @dev Governance is OpenZeppelin AccessControlDefaultAdminRules, as in LicenceRegistry: a single
///      default admin (who grants and revokes `ANCHORER_ROLE`), handed over in two steps after a delay.
contract AnchorRegistry is IAnchorRegistry, AccessControlDefaultAdminRules {
    /// @notice Role of the nodes allowed to anchor batches.
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");
    /// @notice Version of this contract's interface and storage.
    string public constant VERSION = "3.0.0";

    // root => time (64 bits) | anchorer (160 bits) << 64
    mapping(bytes32 root => uint256 record) private _anchors;
    // anchorer => since (64 bits) | until (64 bits) << 64; until 0 while the role is held
    mapping(address anchorer => uint256 term) private _terms;

    /// @param initialDelay Delay (seconds) of a default-admin hand-over; the deployment plan uses 1 day.
    /// @param admin The initial default admin.
    constructor(uint48 initialDelay, address admin) AccessControlDefaultAdminRules(initialDelay, admin) {}

    /// @inheritdoc IAnchorRegistry
    function anchor(bytes32 root, uint32 leafCount) external {
        if (root == bytes32(0) || leafCount == 0) revert InvalidBatch(root, leafCount);
        uint256 existing = _anchors[root];
        if (existing != 0) {
            uint64 previous = uint64(existing);
            if (_counts(address(uint160(existing >> 64)), previous)) revert RootAlreadyAnchored(root, previous);
            // written by a non-anchorer: only an anchorer may take the root over
            _checkRole(ANCHORER_ROLE);
        }
        uint64 time = uint64(block.timestamp);
        _anchors[root] = uint256(time) | (uint256(uint160(msg.sender)) << 64);
        emit Anchored(root, msg.sender, leafCount, time);
    }

    /// @inheritdoc IAnchorRegistry
    function anchoredAt(bytes32 root) public view returns (uint64) {
        uint256 record = _anchors[root];
        uint64 time = uint64(record);
        // slither-disable-next-line incorrect-equality (0 is the no-record sentinel, not a time)
        if (record == 0 || !_counts(address(uint160(record >> 64)), time)) return 0;
        return time;
    }

    /// @inheritdoc IAnchorRegistry
    function verifyDocument(bytes32 root, bytes32 docHash, bytes32[] calldata proof)
        external
        view
        returns (uint64 anchoredAt_)
    {
        anchoredAt_ = anchoredAt(root);
        // slither-disable-next-line incorrect-equality (0 means not anchored, not a time)
        if (anchoredAt_ == 0) return 0;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(docHash))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) return 0;
    }

    /// @inheritdoc IAnchorRegistry
    function anchorRecord(bytes32 root) external view returns (uint64 time, address anchorer) {
        uint256 record = _anchors[root];
        return (uint64(record), address(uint160(record >> 64)));
    }

    /// @inheritdoc IAnchorRegistry
    function anchorerTerm(address account) external view returns (uint64 since, uint64 until) {
        uint256 term = _terms[account];
        return (uint64(term), uint64(term >> 64));
    }

    /// @dev Opens an anchorer's term when it is granted `ANCHORER_ROLE`; a closed term cannot reopen.
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted && role == ANCHORER_ROLE) {
            uint256 term = _terms[account];
            if (term != 0) revert AnchorerRetired(account, uint64(term >> 64));
            _terms[account] = uint64(block.timestamp);
        }
    }

    /// @dev Closes an anchorer's term when `ANCHORER_ROLE` is revoked or renounced.
    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked && role == ANCHORER_ROLE) {
            _terms[account] |= uint256(uint64(block.timestamp)) << 64;
        }
    }

    /// @dev Whether `account` was an anchorer at `time`: since <= time < until (until 0: open).
    function _counts(address account, uint64 time) private view returns (bool) {
        uint256 term = _terms[account];
        uint64 since = uint64(term);
        uint64 until = uint64(term >> 64);
        // slither-disable-next-line incorrect-equality (until 0 means the term is still open)
        return since != 0 && since <= time && (until == 0 || time < until);
    }
}
