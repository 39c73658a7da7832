// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IConsentRegistry
/// @notice A holder's consent that a grantee may use one digital asset for one purpose until an expiry,
///         optionally at most N times ("on-chain authorised business"). Revocable at any time.
/// @dev A grant is keyed by `(holder, assetId, grantee, purpose)`; `assetId` is a licence id or a
///      material's document hash, `purpose` the keccak256 of a purpose code (e.g. "LOAN-APPLICATION").
///
///      Ownership of the asset is NOT checked here; verifiers check it. A grant only says "holder
///      consents". Whoever relies on a grant (the grantee, a clerk's node) must check that `holder`
///      owns `assetId`: for a licence, that `holder` is the address bound to it (`holderAddress` in
///      `LicenceIssued` or `HolderBound` of the LicenceRegistry); for a material, that the holder's
///      wallet holds the document whose hash is the anchored leaf. The registry cannot check this
///      cheaply: materials are leaves of Merkle batches known only to the wallet, and licence holder
///      addresses live in events, not storage. A grant by a non-owner is therefore harmless noise.
///
///      Signed forms use EIP-712 typed data (domain name "CredLedger ConsentRegistry", version "1",
///      this chain id and contract address), a per-holder nonce and a deadline, so a relayer (the wallet
///      service) pays the gas. Contract wallets sign through ERC-1271.
interface IConsentRegistry {
    /// @notice A grant as stored.
    /// @param expiresAt Unix seconds; the grant is usable while `block.timestamp < expiresAt`.
    /// @param maxUses Maximum number of `consume` calls, or 0 for no limit.
    /// @param uses Number of `consume` calls so far.
    struct Grant {
        uint64 expiresAt;
        uint32 maxUses;
        uint32 uses;
    }

    /// @notice A grant as requested (and, with a nonce and deadline, as signed in EIP-712 `Grant`).
    struct GrantRequest {
        address holder;
        bytes32 assetId;
        address grantee;
        bytes32 purpose;
        uint64 expiresAt;
        uint32 maxUses;
    }

    /// @notice The holder granted (or re-granted, resetting the use count) the use of an asset.
    event ConsentGranted(
        address indexed holder,
        bytes32 indexed assetId,
        address indexed grantee,
        bytes32 purpose,
        uint64 expiresAt,
        uint32 maxUses
    );

    /// @notice The holder revoked a grant.
    event ConsentRevoked(address indexed holder, bytes32 indexed assetId, address indexed grantee, bytes32 purpose);

    /// @notice The grantee used a grant; `uses` is the count including this use.
    event ConsentUsed(
        address indexed holder, bytes32 indexed assetId, address indexed grantee, bytes32 purpose, uint32 uses
    );

    /// @notice No grant exists for this key (never granted, or revoked).
    error GrantNotFound(address holder, bytes32 assetId, address grantee, bytes32 purpose);
    /// @notice The grant expired at `expiresAt`.
    error GrantExpired(address holder, bytes32 assetId, address grantee, bytes32 purpose, uint64 expiresAt);
    /// @notice The grant has been used `maxUses` times.
    error GrantExhausted(address holder, bytes32 assetId, address grantee, bytes32 purpose, uint32 maxUses);
    /// @notice The expiry must be in the future.
    error InvalidExpiry(uint64 expiresAt);
    /// @notice The grantee must not be address(0) nor the holder itself.
    error InvalidGrantee(address grantee);
    /// @notice The signed request's deadline has passed.
    error SignatureExpired(uint256 deadline);
    /// @notice The signature is not the holder's over this request with its current nonce.
    error InvalidSignature(address holder);

    /// @notice Grants `grantee` the use of `assetId` for `purpose`; the caller is the holder.
    function grant(bytes32 assetId, address grantee, bytes32 purpose, uint64 expiresAt, uint32 maxUses) external;

    /// @notice Revokes the caller's grant.
    function revoke(bytes32 assetId, address grantee, bytes32 purpose) external;

    /// @notice Grants on behalf of `request.holder`, who signed EIP-712
    ///         `Grant(address holder,bytes32 assetId,address grantee,bytes32 purpose,uint64 expiresAt,uint32 maxUses,uint256 nonce,uint256 deadline)`
    ///         with its current nonce; uses the nonce.
    /// @param signature 65-byte ECDSA signature (r, s, v; low s), or any bytes an ERC-1271 holder accepts.
    function grantBySig(GrantRequest calldata request, uint256 deadline, bytes calldata signature) external;

    /// @notice Revokes on behalf of `holder`, who signed EIP-712
    ///         `Revoke(address holder,bytes32 assetId,address grantee,bytes32 purpose,uint256 nonce,uint256 deadline)`.
    function revokeBySig(
        address holder,
        bytes32 assetId,
        address grantee,
        bytes32 purpose,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Records one use of a grant by its grantee (the caller). Reverts if revoked, expired or exhausted.
    /// @return uses The use count including this use.
    function consume(address holder, bytes32 assetId, bytes32 purpose) external returns (uint32 uses);

    /// @notice Whether `grantee` may use `assetId` for `purpose` now (granted, not expired, not exhausted).
    function isAuthorized(address holder, bytes32 assetId, address grantee, bytes32 purpose)
        external
        view
        returns (bool);

    /// @notice The stored grant (all zero if none).
    function getGrant(address holder, bytes32 assetId, address grantee, bytes32 purpose)
        external
        view
        returns (Grant memory);

    /// @notice `keccak256(abi.encode(holder, assetId, grantee, purpose))`, the storage key of a grant.
    function grantKey(address holder, bytes32 assetId, address grantee, bytes32 purpose) external pure returns (bytes32);
}
