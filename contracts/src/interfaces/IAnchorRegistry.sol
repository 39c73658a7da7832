// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IAnchorRegistry
/// @notice Records the time at which a Merkle root of document hashes was anchored, and by whom.
/// @dev Leaves follow OpenZeppelin's StandardMerkleTree for a single `bytes32` value:
///      `leaf = keccak256(bytes.concat(keccak256(abi.encode(docHash))))`, inner nodes hash sorted pairs.
///
///      Authorisation is checked when an anchor is *read*, not when it is written: `anchor` stores
///      the caller with the time in the root's one slot, and `anchoredAt` / `verifyDocument` count the
///      anchor only if the caller held `ANCHORER_ROLE` at that time (each anchorer key has one term,
///      from the grant to the revocation). Checking the role on write would cost a second cold storage
///      read (2,100 gas) and put `anchor` over its 47,000-gas budget. A root written by someone who was
///      not an anchorer counts for nothing and can be taken over by an anchorer.
interface IAnchorRegistry {
    /// @notice Emitted for every anchoring, including ones by non-anchorers (which do not count:
    ///         trust `anchoredAt(root) != 0`, or check `anchorer`'s term, not the event alone).
    /// @param root Merkle root of the batch.
    /// @param anchorer The account that anchored it.
    /// @param leafCount Number of documents in the batch.
    /// @param anchoredAt Block timestamp of the anchoring transaction.
    event Anchored(bytes32 indexed root, address indexed anchorer, uint32 leafCount, uint64 anchoredAt);

    /// @notice The root was anchored before, at `anchoredAt`, by an account that was an anchorer then.
    error RootAlreadyAnchored(bytes32 root, uint64 anchoredAt);
    /// @notice Zero is not a valid root, and a batch has at least one leaf.
    error InvalidBatch(bytes32 root, uint32 leafCount);
    /// @notice An anchorer key whose term ended cannot be granted the role again; use a new key.
    error AnchorerRetired(address account, uint64 retiredAt);

    /// @notice Anchors a Merkle root. Counts only if the caller holds `ANCHORER_ROLE` (the nodes).
    function anchor(bytes32 root, uint32 leafCount) external;

    /// @notice Time the root was anchored by an anchorer, or 0 if it never was.
    function anchoredAt(bytes32 root) external view returns (uint64);

    /// @notice Whether `docHash` is a leaf of the anchored `root` with `proof`; returns the anchoring time or 0.
    function verifyDocument(bytes32 root, bytes32 docHash, bytes32[] calldata proof)
        external
        view
        returns (uint64 anchoredAt_);

    /// @notice The raw record of a root, whether or not it counts: time and account (zero if none).
    function anchorRecord(bytes32 root) external view returns (uint64 time, address anchorer);

    /// @notice The term of an anchorer key: granted at `since`, revoked at `until` (0: still active).
    function anchorerTerm(address account) external view returns (uint64 since, uint64 until);
}
