// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {NoncesKeyed} from "@openzeppelin/contracts/utils/NoncesKeyed.sol";
import {IConsentRegistry} from "./interfaces/IConsentRegistry.sol";
import {ILicenceRegistry} from "./interfaces/ILicenceRegistry.sol";

/// @title ConsentRegistry
/// @notice Holders' grants of the use of their digital assets, per grantee and purpose, with expiry and
///         an optional use limit; granted and revoked directly or by EIP-712 signature through a relayer.
///         A grant counts only while its grantor holds the asset (see `IConsentRegistry`).
/// @dev No roles and no admin: every grant belongs to its holder alone. A grant is one storage word:
///      expiresAt (64) | maxUses (32) << 64 | uses (32) << 96 | kind (8) << 128, so `consume` reads and
///      writes one slot, plus, for a licence, one call to `LicenceRegistry.holderAndStatus`.
contract ConsentRegistry is IConsentRegistry, EIP712, NoncesKeyed {
    /// @notice Version of this contract's interface and storage.
    string public constant VERSION = "2.0.0";
    /// @notice EIP-712 type hash of a signed grant.
    bytes32 public constant GRANT_TYPEHASH = keccak256(
        "Grant(address holder,uint8 kind,bytes32 asset,address grantee,bytes32 purpose,uint64 expiresAt,uint32 maxUses,uint256 nonce,uint256 deadline)"
    );
    /// @notice EIP-712 type hash of a signed revocation.
    bytes32 public constant REVOKE_TYPEHASH = keccak256(
        "Revoke(address holder,bytes32 assetId,address grantee,bytes32 purpose,uint256 nonce,uint256 deadline)"
    );

    uint256 private constant _KIND_SHIFT = 128;
    uint256 private constant _USES_MASK = uint256(type(uint32).max) << 96;

    /// @inheritdoc IConsentRegistry
    ILicenceRegistry public immutable licences;

    mapping(bytes32 grantKey => uint256 grant) private _grants;

    /// @param licenceRegistry The LicenceRegistry whose `holderOf` decides who holds a licence.
    constructor(ILicenceRegistry licenceRegistry) EIP712("CredLedger ConsentRegistry", "2") {
        licences = licenceRegistry;
    }

    /// @inheritdoc IConsentRegistry
    function grant(AssetKind kind, bytes32 asset, address grantee, bytes32 purpose, uint64 expiresAt, uint32 maxUses)
        external
        returns (bytes32 assetId)
    {
        assetId = _assetId(msg.sender, kind, asset);
        _grant(msg.sender, kind, assetId, grantee, purpose, expiresAt, maxUses);
    }

    /// @inheritdoc IConsentRegistry
    function revoke(bytes32 assetId, address grantee, bytes32 purpose) external {
        bytes32 key = grantKey(msg.sender, assetId, grantee, purpose);
        if (_grants[key] == 0) revert GrantNotFound(msg.sender, assetId, grantee, purpose);
        delete _grants[key];
        // a grant the holder signed earlier and a relayer still holds cannot bring this one back
        _useNonce(msg.sender, nonceKey(assetId, grantee, purpose));
        emit ConsentRevoked(msg.sender, assetId, grantee, purpose);
    }

    /// @inheritdoc IConsentRegistry
    function grantBySig(GrantRequest calldata request, uint256 deadline, bytes calldata signature)
        external
        returns (bytes32 assetId)
    {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        address holder = request.holder;
        assetId = _assetId(holder, request.kind, request.asset);
        uint256 nonce = _useNonce(holder, nonceKey(assetId, request.grantee, request.purpose));
        // a static struct ABI-encodes as its fields in order, exactly the EIP-712 `Grant` members
        _checkSignature(holder, keccak256(abi.encode(GRANT_TYPEHASH, request, nonce, deadline)), signature);
        _grant(holder, request.kind, assetId, request.grantee, request.purpose, request.expiresAt, request.maxUses);
    }

    /// @inheritdoc IConsentRegistry
    function revokeBySig(
        address holder,
        bytes32 assetId,
        address grantee,
        bytes32 purpose,
        uint256 deadline,
        bytes calldata signature
    ) external {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        uint256 nonce = _useNonce(holder, nonceKey(assetId, grantee, purpose));
        bytes32 structHash = keccak256(abi.encode(REVOKE_TYPEHASH, holder, assetId, grantee, purpose, nonce, deadline));
        _checkSignature(holder, structHash, signature);
        // no grant yet is fine: the nonce is used, so a grant signed with it can no longer be submitted
        delete _grants[grantKey(holder, assetId, grantee, purpose)];
        emit ConsentRevoked(holder, assetId, grantee, purpose);
    }

    /// @inheritdoc IConsentRegistry
    function cancelNonce(uint256 nonce) external {
        _useCheckedNonce(msg.sender, nonce);
        emit NonceCancelled(msg.sender, nonce);
    }

    /// @inheritdoc IConsentRegistry
    function consume(address holder, bytes32 assetId, bytes32 purpose) external returns (uint32 uses) {
        bytes32 key = grantKey(holder, assetId, msg.sender, purpose);
        uint256 w = _grants[key];
        if (w == 0) revert GrantNotFound(holder, assetId, msg.sender, purpose);
        uint64 expiresAt = uint64(w);
        if (block.timestamp >= expiresAt) revert GrantExpired(holder, assetId, msg.sender, purpose, expiresAt);
        uint32 maxUses = uint32(w >> 64);
        uses = uint32(w >> 96);
        if (maxUses != 0 && uses >= maxUses) revert GrantExhausted(holder, assetId, msg.sender, purpose, maxUses);
        if (AssetKind(uint8(w >> _KIND_SHIFT)) == AssetKind.Licence) _checkLicenceHolder(holder, assetId);
        ++uses;
        _grants[key] = (w & ~_USES_MASK) | (uint256(uses) << 96);
        emit ConsentUsed(holder, assetId, msg.sender, purpose, uses);
    }

    /// @inheritdoc IConsentRegistry
    function isAuthorized(address holder, bytes32 assetId, address grantee, bytes32 purpose)
        external
        view
        returns (bool)
    {
        uint256 w = _grants[grantKey(holder, assetId, grantee, purpose)];
        uint32 maxUses = uint32(w >> 64);
        if (w == 0 || block.timestamp >= uint64(w) || (maxUses != 0 && uint32(w >> 96) >= maxUses)) return false;
        if (AssetKind(uint8(w >> _KIND_SHIFT)) == AssetKind.Material) return true;
        (address bound, ILicenceRegistry.Status status) = licences.holderAndStatus(assetId);
        return bound == holder && status == ILicenceRegistry.Status.Active;
    }

    /// @inheritdoc IConsentRegistry
    function getGrant(address holder, bytes32 assetId, address grantee, bytes32 purpose)
        external
        view
        returns (Grant memory)
    {
        uint256 w = _grants[grantKey(holder, assetId, grantee, purpose)];
        return Grant(uint64(w), uint32(w >> 64), uint32(w >> 96), AssetKind(uint8(w >> _KIND_SHIFT)));
    }

    /// @inheritdoc IConsentRegistry
    function grantKey(address holder, bytes32 assetId, address grantee, bytes32 purpose) public pure returns (bytes32) {
        return keccak256(abi.encode(holder, assetId, grantee, purpose));
    }

    /// @inheritdoc IConsentRegistry
    function materialAssetId(address holder, bytes32 docHash) public pure returns (bytes32) {
        return keccak256(abi.encode(holder, docHash));
    }

    /// @inheritdoc IConsentRegistry
    function nonceKey(bytes32 assetId, address grantee, bytes32 purpose) public pure returns (uint192) {
        return uint192(uint256(keccak256(abi.encode(assetId, grantee, purpose))));
    }

    /// @notice The EIP-712 domain separator of this deployment (chain id and address bound).
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev The id a grant of `asset` is stored under: the licence id itself, or the material's
    ///      holder-committed id.
    function _assetId(address holder, AssetKind kind, bytes32 asset) private pure returns (bytes32) {
        return kind == AssetKind.Licence ? asset : materialAssetId(holder, asset);
    }

    /// @dev Reverts unless `holder` is the bound holder of the licence `licenceId` and it is Active.
    function _checkLicenceHolder(address holder, bytes32 licenceId) private view {
        (address bound, ILicenceRegistry.Status status) = licences.holderAndStatus(licenceId);
        if (bound != holder) revert NotHolder(holder, licenceId);
        if (status != ILicenceRegistry.Status.Active) revert LicenceNotUsable(licenceId, status);
    }

    function _grant(
        address holder,
        AssetKind kind,
        bytes32 assetId,
        address grantee,
        bytes32 purpose,
        uint64 expiresAt,
        uint32 maxUses
    ) private {
        if (grantee == address(0) || grantee == holder) revert InvalidGrantee(grantee);
        if (expiresAt <= block.timestamp) revert InvalidExpiry(expiresAt);
        if (kind == AssetKind.Licence) _checkLicenceHolder(holder, assetId);
        _grants[grantKey(holder, assetId, grantee, purpose)] =
            uint256(expiresAt) | (uint256(maxUses) << 64) | (uint256(uint8(kind)) << _KIND_SHIFT);
        emit ConsentGranted(holder, assetId, grantee, purpose, expiresAt, maxUses, kind);
    }

    /// @dev Accepts a 65-byte low-s ECDSA signature by `holder`, else asks `holder` through ERC-1271.
    ///      ECDSA first, so an EOA holder costs no code-size lookup; 64-byte (EIP-2098) and high-s
    ///      signatures are refused by ECDSA and, for an EOA, by the ERC-1271 fallback too.
    function _checkSignature(address holder, bytes32 structHash, bytes calldata signature) private view {
        bytes32 digest = _hashTypedDataV4(structHash);
        if (signature.length == 65) {
            // slither-disable-next-line unused-return (the error argument is not needed)
            (address recovered, ECDSA.RecoverError err,) =
                ECDSA.tryRecover(digest, uint8(signature[64]), bytes32(signature[0:32]), bytes32(signature[32:64]));
            if (err == ECDSA.RecoverError.NoError && recovered == holder) return;
        }
        if (!_isValidERC1271SignatureNow(holder, digest, signature)) revert InvalidSignature(holder);
    }

    /// @dev OpenZeppelin `SignatureChecker.isValidERC1271SignatureNow`, verbatim in substance: 5.4's
    ///      SignatureChecker imports `Bytes`, which uses MCOPY (Cancun), and this project targets Paris.
    function _isValidERC1271SignatureNow(address signer, bytes32 hash, bytes calldata signature)
        private
        view
        returns (bool)
    {
        (bool success, bytes memory result) =
            signer.staticcall(abi.encodeCall(IERC1271.isValidSignature, (hash, signature)));
        return
            success && result.length >= 32
                && abi.decode(result, (bytes32)) == bytes32(IERC1271.isValidSignature.selector);
    }
}
