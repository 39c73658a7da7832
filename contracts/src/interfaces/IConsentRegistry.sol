// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ILicenceRegistry} from "./ILicenceRegistry.sol";

/// @title IConsentRegistry
/// @notice A holder's consent that a grantee may use one digital asset for one purpose until an expiry,
///         optionally at most N times ("on-chain authorised business"). Revocable at any time.
/// @dev A grant is keyed by `(holder, assetId, grantee, purpose)`; `purpose` is the keccak256 of a
///      purpose code (e.g. "LOAN-APPLICATION"). A grant is sound by itself: `isAuthorized` is true only
///      while `holder` holds the asset, so a verifier needs this one view call and nothing off chain.
///
///      Assets come in two kinds, named in every grant:
///      - `Licence`: `assetId` is a LicenceRegistry licence id. `holder` holds it while
///        `LicenceRegistry.holderOf(assetId) == holder`, and a grant is usable only while that holds
///        and the licence is Active (both checked on every `isAuthorized` and `consume`). Re-binding
///        the licence to another address ends the previous holder's grants (they would count again
///        only if the licence were bound back to it); revocation ends them for good; suspension and
///        expiry pause them (usable again once the licence is reinstated, or renewed by an
///        amendment, unless the grant itself expired meanwhile).
///      - `Material`: a document in the holder's wallet. Its asset id commits to the holder:
///        `assetId = keccak256(abi.encode(holder, docHash))` (`materialAssetId`), and that id is the
///        32-byte value the wallet anchors in the AnchorRegistry, so the material's receipt proves
///        holder, document and time together. The grant names the document hash and the registry
///        derives the asset id, so a material grant is always the holder's own.
///
///      Signed forms use EIP-712 typed data (domain name "CredLedger ConsentRegistry", version "2",
///      this chain id and contract address), a keyed nonce and a deadline, so a relayer (the wallet
///      service) pays the gas. Contract wallets sign through ERC-1271. Nonces are OpenZeppelin
///      `NoncesKeyed`, one sequence per holder and grant slot: the key is
///      `nonceKey(assetId, grantee, purpose)` and the signed `nonce` is `nonces(holder, key)` (key in
///      the high 192 bits, sequence in the low 64), so requests for different grantees, assets or
///      purposes never queue behind each other. A signed request that was not submitted is cancelled
///      by the holder with `cancelNonce(nonce)`, or without gas by a signed `Revoke` of the same slot
///      (which uses the same nonce, so the pending grant can no longer be submitted).
interface IConsentRegistry {
    /// @notice What a grant's asset is; see the contract notes.
    enum AssetKind {
        Licence,
        Material
    }

    /// @notice A grant as stored.
    /// @param expiresAt Unix seconds; the grant is usable while `block.timestamp < expiresAt`.
    /// @param maxUses Maximum number of `consume` calls, or 0 for no limit.
    /// @param uses Number of `consume` calls so far.
    /// @param kind The asset's kind (a licence grant is also checked against the LicenceRegistry).
    struct Grant {
        uint64 expiresAt;
        uint32 maxUses;
        uint32 uses;
        AssetKind kind;
    }

    /// @notice A grant as requested (and, with a nonce and deadline, as signed in EIP-712 `Grant`).
    /// @param holder The grantor: the licence's bound holder address, or the material's holder.
    /// @param kind `Licence` or `Material`.
    /// @param asset The licence id (kind `Licence`), or the material's document hash (kind `Material`;
    ///        the grant is stored under `materialAssetId(holder, asset)`).
    /// @param grantee Who may use the asset (a bank), not the holder and not address(0).
    /// @param purpose keccak256 of the purpose code.
    /// @param expiresAt End of the grant (unix seconds, exclusive), in the future.
    /// @param maxUses Maximum number of uses, or 0 for no limit.
    struct GrantRequest {
        address holder;
        AssetKind kind;
        bytes32 asset;
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
        uint32 maxUses,
        AssetKind kind
    );

    /// @notice The holder revoked a grant. Also emitted by a signed revocation that pre-empts a grant not
    ///         yet submitted (no grant existed; the slot's nonce was used, so the pending grant is void).
    event ConsentRevoked(address indexed holder, bytes32 indexed assetId, address indexed grantee, bytes32 purpose);

    /// @notice The grantee used a grant; `uses` is the count including this use.
    event ConsentUsed(
        address indexed holder, bytes32 indexed assetId, address indexed grantee, bytes32 purpose, uint32 uses
    );

    /// @notice The holder cancelled the keyed nonce `nonce`: no request signed with it can be submitted.
    event NonceCancelled(address indexed holder, uint256 nonce);

    /// @notice No grant exists for this key (never granted, or revoked).
    error GrantNotFound(address holder, bytes32 assetId, address grantee, bytes32 purpose);
    /// @notice The grant expired at `expiresAt`.
    error GrantExpired(address holder, bytes32 assetId, address grantee, bytes32 purpose, uint64 expiresAt);
    /// @notice The grant has been used `maxUses` times.
    error GrantExhausted(address holder, bytes32 assetId, address grantee, bytes32 purpose, uint32 maxUses);
    /// @notice `holder` does not hold the licence `assetId` (`LicenceRegistry.holderOf(assetId) != holder`):
    ///         it may not grant the licence, and its grant cannot be used.
    error NotHolder(address holder, bytes32 assetId);
    /// @notice The licence `assetId` is not Active (`status` is its derived status: Suspended, Revoked,
    ///         Expired or NotFound), so it cannot be granted or used now.
    error LicenceNotUsable(bytes32 assetId, ILicenceRegistry.Status status);
    /// @notice The expiry must be in the future.
    error InvalidExpiry(uint64 expiresAt);
    /// @notice The grantee must not be address(0) nor the holder itself.
    error InvalidGrantee(address grantee);
    /// @notice The signed request's deadline has passed.
    error SignatureExpired(uint256 deadline);
    /// @notice The signature is not the holder's over this request with its current nonce.
    error InvalidSignature(address holder);

    /// @notice Grants `grantee` the use of an asset for `purpose`; the caller is the holder.
    ///         Reverts `NotHolder` / `LicenceNotUsable` for a licence the caller does not hold or that is
    ///         not Active.
    /// @param asset The licence id, or the material's document hash (see `GrantRequest`).
    /// @return assetId The asset id the grant is stored under.
    function grant(AssetKind kind, bytes32 asset, address grantee, bytes32 purpose, uint64 expiresAt, uint32 maxUses)
        external
        returns (bytes32 assetId);

    /// @notice Revokes the caller's grant. Reverts `GrantNotFound` if there is none. Also uses the slot's
    ///         current nonce, so no request signed before the revocation can be submitted after it.
    function revoke(bytes32 assetId, address grantee, bytes32 purpose) external;

    /// @notice Grants on behalf of `request.holder`, who signed EIP-712
    ///         `Grant(address holder,uint8 kind,bytes32 asset,address grantee,bytes32 purpose,uint64 expiresAt,uint32 maxUses,uint256 nonce,uint256 deadline)`
    ///         with `nonce = nonces(holder, nonceKey(assetId, grantee, purpose))`; uses that nonce.
    /// @param signature 65-byte ECDSA signature (r, s, v; low s), or any bytes an ERC-1271 holder accepts.
    /// @return assetId The asset id the grant is stored under.
    function grantBySig(GrantRequest calldata request, uint256 deadline, bytes calldata signature)
        external
        returns (bytes32 assetId);

    /// @notice Revokes on behalf of `holder`, who signed EIP-712
    ///         `Revoke(address holder,bytes32 assetId,address grantee,bytes32 purpose,uint256 nonce,uint256 deadline)`
    ///         with `nonce = nonces(holder, nonceKey(assetId, grantee, purpose))`; uses that nonce.
    ///         Works whether or not the grant was submitted: a grant signed with the same nonce can then
    ///         no longer be submitted.
    function revokeBySig(
        address holder,
        bytes32 assetId,
        address grantee,
        bytes32 purpose,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Cancels the caller's keyed nonce `nonce` (it must be the current one of its key,
    ///         else OpenZeppelin `InvalidAccountNonce(holder, currentNonce)`), voiding every request
    ///         signed with it.
    function cancelNonce(uint256 nonce) external;

    /// @notice Records one use of a grant by its grantee (the caller). Reverts if revoked, expired or
    ///         exhausted, and for a licence if `holder` no longer holds it (`NotHolder`) or it is not
    ///         Active (`LicenceNotUsable`).
    /// @return uses The use count including this use.
    function consume(address holder, bytes32 assetId, bytes32 purpose) external returns (uint32 uses);

    /// @notice Whether `grantee` may use `assetId` for `purpose` now: granted, not expired, not
    ///         exhausted, and for a licence `holder` is its bound holder and it is Active.
    function isAuthorized(address holder, bytes32 assetId, address grantee, bytes32 purpose)
        external
        view
        returns (bool);

    /// @notice The stored grant (all zero if none), whether or not it is usable now.
    function getGrant(address holder, bytes32 assetId, address grantee, bytes32 purpose)
        external
        view
        returns (Grant memory);

    /// @notice `keccak256(abi.encode(holder, assetId, grantee, purpose))`, the storage key of a grant.
    function grantKey(address holder, bytes32 assetId, address grantee, bytes32 purpose) external pure returns (bytes32);

    /// @notice `keccak256(abi.encode(holder, docHash))`: a material's asset id, and the value its
    ///         holder's wallet anchors.
    function materialAssetId(address holder, bytes32 docHash) external pure returns (bytes32);

    /// @notice The nonce key of a grant slot: the low 192 bits of
    ///         `keccak256(abi.encode(assetId, grantee, purpose))`.
    function nonceKey(bytes32 assetId, address grantee, bytes32 purpose) external pure returns (uint192);

    /// @notice The LicenceRegistry that licence grants are checked against (set at deployment).
    function licences() external view returns (ILicenceRegistry);
}
