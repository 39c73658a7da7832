// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IAnchorRegistry
/// @notice Records the time at which a Merkle root of document hashes was anchored.
/// @dev Leaves follow OpenZeppelin's StandardMerkleTree for a single `bytes32` value:
///      `leaf = keccak256(bytes.concat(keccak256(abi.encode(docHash))))`, inner nodes hash sorted pairs.
interface IAnchorRegistry {
    /// @notice Emitted once per anchored batch.
    /// @param root Merkle root of the batch.
    /// @param leafCount Number of documents in the batch.
    /// @param anchoredAt Block timestamp of the anchoring transaction.
    event Anchored(bytes32 indexed root, uint32 leafCount, uint64 anchoredAt);

    /// @notice The root was anchored before, at `anchoredAt`.
    error RootAlreadyAnchored(bytes32 root, uint64 anchoredAt);
    /// @notice Zero is not a valid root, and a batch has at least one leaf.
    error InvalidBatch(bytes32 root, uint32 leafCount);

    /// @notice Anchors a Merkle root. Only callers with `ANCHORER_ROLE` (the nodes).
    function anchor(bytes32 root, uint32 leafCount) external;

    /// @notice Time the root was anchored, or 0 if it never was.
    function anchoredAt(bytes32 root) external view returns (uint64);

    /// @notice Whether `docHash` is a leaf of the anchored `root` with `proof`; returns the anchoring time or 0.
    function verifyDocument(bytes32 root, bytes32 docHash, bytes32[] calldata proof)
        external
        view
        returns (uint64 anchoredAt_);
}
