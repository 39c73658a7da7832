// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IPresentationLedger
/// @notice The network-wide single-use store of presentation tokens: a verifier spends a token's
///         statement hash once it has checked the token; a statement spent once stays spent, so
///         a single-use token is accepted by one verifier on the whole chain.
/// @dev Anyone may spend: a statement hash is the EIP-712 digest of a signed presentation and
///      reveals nothing; spending a statement nobody presented only burns the caller's gas.
///      `spend` takes a group (the node batches concurrent checks into one transaction) and
///      skips statements already spent instead of reverting, so one spent statement does not
///      undo the others: a verifier learns which ones are its own from the `Spent` events of
///      its receipt.
interface IPresentationLedger {
    /// @notice Emitted once per statement, by the transaction that spent it first.
    /// @param statement The presentation's statement hash (its EIP-712 digest).
    /// @param verifier The account (a node's key) that spent it.
    event Spent(bytes32 indexed statement, address indexed verifier);

    /// @notice Zero is not a statement hash.
    error ZeroStatement();

    /// @notice Spends every statement of `statements` not spent yet (recording the caller and the
    ///         block time) and emits `Spent` for each of them; already-spent ones are skipped.
    /// @param statements Statement hashes, at most a few hundred per call (gas).
    function spend(bytes32[] calldata statements) external;

    /// @notice Who spent `statement` and when, or (zero address, 0) if nobody did.
    function spentBy(bytes32 statement) external view returns (address verifier, uint64 at);
}
