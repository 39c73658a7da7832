// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {
    AccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ILicenceRegistry} from "./interfaces/ILicenceRegistry.sol";

/// @title LicenceRegistry
/// @notice Licences of registered types, issued and managed by authorised departments.
/// @dev Storage per licence is two slots: one packed word with everything a status change, a holder
///      binding or a consent check needs (holder address, issuing key, type, status, version, end of
///      validity), so suspend / reinstate / revoke / bindHolder write exactly one slot and the
///      ConsentRegistry reads one; and the current document hash, written at issuance and amendment
///      only. The rest (holder subject, serial, start of validity, reasons, history) lives in the events.
///      To fit the holder address, the issuing key and the type are stored as 16-bit indices: at most
///      65,535 licence types and 65,535 department keys (`RegistryFull`).
///
///      Authority over a licence: any key currently authorised for the licence's type (issuer: every
///      change; supervisor: suspend and reinstate), or the key that issued it unless that key was
///      retired. Removing a department's authorisation stops it issuing and acting on other
///      departments' licences; the department keeps authority over the licences it issued itself (it
///      stays the responsible authority, as on paper). A key that must lose even that (leaked,
///      replaced) is retired by the admin: `retireKey` removes every role it has and the key can never
///      act or be authorised again, while its licences stay valid and stay in the hands of the type's
///      current issuers.
///
///      Department keys (SM2 e-seal keys, P-256 credential keys) are a registry of their own beside the
///      transaction keys: numbered 1, 2, …, each one word (department, kind, retiredAt, registeredAt) and
///      its public key. A sealed issuance or amendment reads that one word and accepts the seal only if
///      the key is the caller's own SM2 key and not retired; the SM2 signature itself is checked off
///      chain (the EVM has no SM2), against the registered key, by anyone holding the metadata.
///
///      Governance is OpenZeppelin AccessControlDefaultAdminRules: a single default admin, handed
///      over in two steps after a delay, so the admin can later be a consortium multisig.
contract LicenceRegistry is ILicenceRegistry, AccessControlDefaultAdminRules {
    /// @notice Version of this contract's interface and storage.
    string public constant VERSION = "2.1.0";
    /// @notice Role of supervising departments allowed to call `recordSupervision`.
    bytes32 public constant SUPERVISOR_ROLE = keccak256("SUPERVISOR_ROLE");
    /// @notice Per-type role bit: may issue licences of the type and change any licence of the type.
    uint8 public constant ROLE_ISSUER = 1;
    /// @notice Per-type role bit: may suspend and reinstate licences of the type.
    uint8 public constant ROLE_SUPERVISOR = 2;
    /// @notice Department key kind: an SM2 e-seal key (GM/T 0003 curve, 64-byte x || y).
    uint8 public constant KEY_KIND_SM2 = 1;
    /// @notice Department key kind: a P-256 (secp256r1) credential-signing key (64-byte x || y).
    uint8 public constant KEY_KIND_P256 = 2;

    // A licence's state is one packed word (one storage slot), laid out from the low bits:
    // holder (160) | keyIndex (16) | typeIndex (16) | status (8) | version (16) | validUntil (40).
    uint256 private constant _KEY_SHIFT = 160;
    uint256 private constant _TYPE_SHIFT = 176;
    uint256 private constant _STATUS_SHIFT = 192;
    uint256 private constant _VERSION_SHIFT = 200;
    uint256 private constant _UNTIL_SHIFT = 216;
    uint256 private constant _HOLDER_MASK = (uint256(1) << 160) - 1;
    uint256 private constant _STATUS_MASK = uint256(0xff) << _STATUS_SHIFT;
    uint256 private constant _VERSION_UNTIL_MASK = ~uint256(0) << _VERSION_SHIFT;
    uint256 private constant _MAX_INDEX = type(uint16).max;

    // A department's authorisation for a type is one packed word:
    // roles (8) | keyIndex (16) << 8 | typeIndex (16) << 24 | sealKeys (5 x 32) << 40, so issuing reads
    // one slot for the permission, both indices (uint32(word >> 8) << 160 is the licence word's key and
    // type fields) and the ids of the department's SM2 seal keys in service (0 in unused fields).
    // A department (transaction) key's own word is: keyIndex (16) | retiredAt (64) << 16 |
    // sealKeys (5 x 32) << 80, the master copy of the seal key set that every authorisation word of
    // the department repeats (registering or retiring an SM2 key rewrites them all).
    uint256 private constant _AUTH_SEALS_SHIFT = 40;
    uint256 private constant _KEYS_SEALS_SHIFT = 80;
    uint256 private constant _MAX_SEAL_KEYS = 5;

    // A department key's record (an e-seal or credential key, numbered by keyId) is one word:
    // department (160) | kind (8) << 160 | retiredAt (40) << 168 | registeredAt (40) << 208, so a seal
    // is accepted when the low 208 bits are exactly `caller | KEY_KIND_SM2 << 160` (the caller's own
    // SM2 key, not retired): one storage read and one comparison.
    uint256 private constant _DK_KIND_SHIFT = 160;
    uint256 private constant _DK_RETIRED_SHIFT = 168;
    uint256 private constant _DK_REGISTERED_SHIFT = 208;
    uint256 private constant _DK_CHECK_MASK = (uint256(1) << 208) - 1;
    // The curves of the key kinds (both have a = p - 3): SM2 (GB/T 32918.5) and P-256 (SEC 2).
    uint256 private constant _SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF;
    uint256 private constant _SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93;
    uint256 private constant _P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF;
    uint256 private constant _P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B;

    mapping(bytes32 licenceId => uint256 state) private _licences;
    mapping(bytes32 licenceId => bytes32 docHash) private _docHashes;
    mapping(bytes32 typeId => LicenceType) private _types;
    mapping(uint32 typeIndex => bytes32 typeId) private _typeIds;
    mapping(bytes32 typeId => mapping(address department => uint256 rolesAndIndices)) private _authorisations;
    // For lifecycle calls (the licence word holds the type index): roles (8) | keyIndex (16) << 8 of a
    // department for a type, so one read tells both whether its roles allow the change and whether it
    // is the licence's issuing key (a de-authorised key keeps its index here; a retired key has 0).
    mapping(uint32 typeIndex => mapping(address department => uint256 rolesAndKey)) private _rolesByIndex;
    uint32 private _typeCount;
    uint16 private _keyCount;
    mapping(address department => uint256 indexAndRetiredAt) private _keys;
    mapping(uint16 keyIndex => address department) private _keyAddresses;
    // Every type index a key was ever authorised for, so `retireKey` can remove its roles.
    mapping(address department => uint32[] typeIndices) private _typesOf;
    uint32 private _departmentKeyCount;
    mapping(uint32 keyId => uint256 record) private _departmentKeys;
    mapping(uint32 keyId => bytes publicKey) private _departmentKeyBytes;
    mapping(bytes32 publicKeyHash => uint32 keyId) private _departmentKeyIdOf;
    mapping(address department => uint32[] keyIds) private _departmentKeyIdsOf;

    /// @param initialDelay Delay (seconds) of a default-admin hand-over; the deployment plan uses 1 day.
    /// @param admin The initial default admin.
    constructor(uint48 initialDelay, address admin) AccessControlDefaultAdminRules(initialDelay, admin) {}

    // ------------------------------------------------------------------ governance

    /// @inheritdoc ILicenceRegistry
    function registerType(bytes32 typeId, string calldata name, bytes32 schemaHash)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (typeId == bytes32(0) || schemaHash == bytes32(0) || bytes(name).length == 0) {
            revert InvalidLicenceType(typeId);
        }
        if (_types[typeId].index != 0) revert LicenceTypeExists(typeId);
        uint32 index = ++_typeCount;
        if (index > _MAX_INDEX) revert RegistryFull(_MAX_INDEX);
        _types[typeId] = LicenceType(index, schemaHash, name);
        _typeIds[index] = typeId;
        emit LicenceTypeRegistered(typeId, index, schemaHash, name);
    }

    /// @inheritdoc ILicenceRegistry
    function setAuthorisation(bytes32 typeId, address department, uint8 roles) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint32 index = _types[typeId].index;
        if (index == 0) revert UnknownLicenceType(typeId);
        if (department == address(0) || roles & ~(ROLE_ISSUER | ROLE_SUPERVISOR) != 0) {
            revert InvalidAuthorisation(typeId, department, roles);
        }
        uint256 k = _keys[department];
        if (uint64(k >> 16) != 0) revert KeyIsRetired(department, uint64(k >> 16));
        uint16 keyIndex = uint16(k);
        if (keyIndex == 0) {
            if (_keyCount == _MAX_INDEX) revert RegistryFull(_MAX_INDEX);
            keyIndex = ++_keyCount;
            _keys[department] = keyIndex;
            _keyAddresses[keyIndex] = department;
        }
        // a word once written keeps the (non-zero) indices, so a type is listed once per key
        if (_authorisations[typeId][department] == 0) _typesOf[department].push(index);
        _authorisations[typeId][department] = uint256(roles) | (uint256(keyIndex) << 8) | (uint256(index) << 24)
            | ((k >> _KEYS_SEALS_SHIFT) << _AUTH_SEALS_SHIFT);
        _rolesByIndex[index][department] = uint256(roles) | (uint256(keyIndex) << 8);
        emit AuthorisationSet(typeId, department, roles);
    }

    /// @inheritdoc ILicenceRegistry
    function retireKey(address key) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (key == address(0)) revert InvalidAuthorisation(bytes32(0), key, 0);
        uint256 k = _keys[key];
        if (uint64(k >> 16) != 0) revert KeyIsRetired(key, uint64(k >> 16));
        uint64 retired = uint64(block.timestamp);
        _keys[key] = k | (uint256(retired) << 16);
        uint32[] storage indices = _typesOf[key];
        uint256 n = indices.length;
        for (uint256 i; i < n; ++i) {
            uint32 index = indices[i];
            uint256 r = _rolesByIndex[index][key];
            if (r == 0) continue;
            _rolesByIndex[index][key] = 0; // the roles and the issuing key's standing for the type
            if (uint8(r) == 0) continue;
            bytes32 typeId = _typeIds[index];
            _authorisations[typeId][key] &= ~uint256(0xff);
            emit AuthorisationSet(typeId, key, 0);
        }
        _revokeRole(SUPERVISOR_ROLE, key);
        emit KeyRetired(key, retired);
    }

    // ------------------------------------------------------------------ department keys

    /// @inheritdoc ILicenceRegistry
    function registerDepartmentKey(address department, uint8 kind, bytes calldata publicKey)
        external
        returns (uint32 keyId)
    {
        if (msg.sender != department && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert NotKeyManager(department, msg.sender);
        }
        uint256 k = _keys[department];
        if (uint16(k) == 0) revert UnknownDepartment(department);
        if (uint64(k >> 16) != 0) revert KeyIsRetired(department, uint64(k >> 16));
        if (!_onCurve(kind, publicKey)) revert InvalidDepartmentKey(kind, publicKey.length);
        bytes32 keyHash = keccak256(publicKey);
        uint32 existing = _departmentKeyIdOf[keyHash];
        if (existing != 0) revert DepartmentKeyExists(existing);
        keyId = ++_departmentKeyCount;
        _departmentKeyIdOf[keyHash] = keyId;
        _departmentKeys[keyId] = uint256(uint160(department)) | (uint256(kind) << _DK_KIND_SHIFT)
            | (uint256(uint40(block.timestamp)) << _DK_REGISTERED_SHIFT);
        _departmentKeyBytes[keyId] = publicKey;
        _departmentKeyIdsOf[department].push(keyId);
        if (kind == KEY_KIND_SM2) _addSealKey(department, k, keyId);
        emit DepartmentKeyRegistered(department, keyId, kind, publicKey);
    }

    /// @inheritdoc ILicenceRegistry
    function retireDepartmentKey(uint32 keyId) external {
        uint256 w = _departmentKeys[keyId];
        // slither-disable-next-line incorrect-equality (0 is the no-record sentinel, not a time)
        if (w == 0) revert UnknownDepartmentKey(keyId);
        address department = address(uint160(w));
        if (msg.sender == department) {
            _revertIfRetired(department);
        } else if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert NotKeyManager(department, msg.sender);
        }
        uint64 retired = uint40(w >> _DK_RETIRED_SHIFT);
        if (retired != 0) revert DepartmentKeyIsRetired(keyId, retired);
        retired = uint40(block.timestamp);
        _departmentKeys[keyId] = w | (uint256(retired) << _DK_RETIRED_SHIFT);
        // slither-disable-next-line incorrect-equality (the key's kind, not a time)
        if (uint8(w >> _DK_KIND_SHIFT) == KEY_KIND_SM2) _removeSealKey(department, keyId);
        emit DepartmentKeyRetired(department, keyId, retired);
    }

    // ------------------------------------------------------------------ issuance

    /// @inheritdoc ILicenceRegistry
    function issue(
        bytes32 typeId,
        bytes32 serial,
        bytes32 holder,
        address holderAddress,
        bytes32 docHash,
        uint40 validFrom,
        uint40 validUntil
    ) external returns (bytes32 licenceId) {
        uint256 indices = _issuerIndices(typeId);
        licenceId = _issue(typeId, indices, serial, holder, holderAddress, docHash, validFrom, validUntil);
    }

    /// @inheritdoc ILicenceRegistry
    function issueBatch(IssueRequest[] calldata requests) external returns (bytes32[] memory licenceIds) {
        uint256 n = requests.length;
        licenceIds = new bytes32[](n);
        bytes32 lastType = bytes32(0);
        uint256 indices = 0;
        for (uint256 i; i < n; ++i) {
            IssueRequest calldata r = requests[i];
            if (i == 0 || r.typeId != lastType) {
                indices = _issuerIndices(r.typeId);
                lastType = r.typeId;
            }
            licenceIds[i] =
                _issue(r.typeId, indices, r.serial, r.holder, r.holderAddress, r.docHash, r.validFrom, r.validUntil);
        }
    }

    /// @inheritdoc ILicenceRegistry
    function issueSealed(IssueRequest calldata request, Seal calldata seal) external returns (bytes32 licenceId) {
        uint256 a = _authorisations[request.typeId][msg.sender];
        if (a & ROLE_ISSUER == 0) _revertNotIssuer(request.typeId);
        if (!_inSealSet(a >> _AUTH_SEALS_SHIFT, seal.keyId)) _revertBadSealKey(seal.keyId);
        licenceId = _issue(
            request.typeId,
            uint32(a >> 8),
            request.serial,
            request.holder,
            request.holderAddress,
            request.docHash,
            request.validFrom,
            request.validUntil
        );
        _emitSealed(licenceId, 1, seal);
    }

    /// @inheritdoc ILicenceRegistry
    function issueBatchSealed(IssueRequest[] calldata requests, Seal[] calldata seals)
        external
        returns (bytes32[] memory licenceIds)
    {
        uint256 n = requests.length;
        if (seals.length != n) revert SealCountMismatch(n, seals.length);
        licenceIds = new bytes32[](n);
        bytes32 lastType = bytes32(0);
        uint256 a = 0;
        for (uint256 i; i < n; ++i) {
            IssueRequest calldata r = requests[i];
            Seal calldata seal = seals[i];
            if (i == 0 || r.typeId != lastType) {
                a = _authorisations[r.typeId][msg.sender];
                if (a & ROLE_ISSUER == 0) _revertNotIssuer(r.typeId);
                lastType = r.typeId;
            }
            if (!_inSealSet(a >> _AUTH_SEALS_SHIFT, seal.keyId)) _revertBadSealKey(seal.keyId);
            bytes32 licenceId = _issue(
                r.typeId, uint32(a >> 8), r.serial, r.holder, r.holderAddress, r.docHash, r.validFrom, r.validUntil
            );
            licenceIds[i] = licenceId;
            _emitSealed(licenceId, 1, seal);
        }
    }

    // ------------------------------------------------------------------ lifecycle

    /// @inheritdoc ILicenceRegistry
    function suspend(bytes32 licenceId, uint16 reasonCode) external {
        uint256 w = _authorised(licenceId, ROLE_ISSUER | ROLE_SUPERVISOR);
        Status status = _status(w);
        if (status != Status.Active) revert LicenceNotActive(licenceId, status);
        _licences[licenceId] = _withStatus(w, Status.Suspended);
        emit LicenceSuspended(licenceId, msg.sender, reasonCode);
    }

    /// @inheritdoc ILicenceRegistry
    function reinstate(bytes32 licenceId) external {
        uint256 w = _authorised(licenceId, ROLE_ISSUER | ROLE_SUPERVISOR);
        Status status = _status(w);
        if (status != Status.Suspended) revert LicenceNotSuspended(licenceId, status);
        _licences[licenceId] = _withStatus(w, Status.Active);
        emit LicenceReinstated(licenceId, msg.sender);
    }

    /// @inheritdoc ILicenceRegistry
    function revoke(bytes32 licenceId, uint16 reasonCode) external {
        uint256 w = _authorised(licenceId, ROLE_ISSUER);
        Status status = _status(w);
        if (status == Status.Revoked) revert LicenceIsRevoked(licenceId, status);
        _licences[licenceId] = _withStatus(w, Status.Revoked);
        emit LicenceRevoked(licenceId, msg.sender, reasonCode);
    }

    /// @inheritdoc ILicenceRegistry
    function amend(bytes32 licenceId, bytes32 newDocHash, uint40 newValidUntil) external {
        _amend(licenceId, newDocHash, newValidUntil);
    }

    /// @inheritdoc ILicenceRegistry
    function amendSealed(bytes32 licenceId, bytes32 newDocHash, uint40 newValidUntil, Seal calldata seal) external {
        uint16 version = _amend(licenceId, newDocHash, newValidUntil);
        _checkSealKey(seal.keyId);
        _emitSealed(licenceId, version, seal);
    }

    function _amend(bytes32 licenceId, bytes32 newDocHash, uint40 newValidUntil) private returns (uint16 version) {
        uint256 w = _authorised(licenceId, ROLE_ISSUER);
        Status status = _status(w);
        if (status == Status.Revoked) revert LicenceIsRevoked(licenceId, status);
        if (newDocHash == bytes32(0)) revert InvalidDocHash(licenceId);
        if (newValidUntil != 0 && newValidUntil <= block.timestamp) {
            revert InvalidValidity(licenceId, 0, newValidUntil);
        }
        version = uint16(w >> _VERSION_SHIFT) + 1;
        _licences[licenceId] = (w & ~_VERSION_UNTIL_MASK) | (uint256(version) << _VERSION_SHIFT)
            | (uint256(newValidUntil) << _UNTIL_SHIFT);
        _docHashes[licenceId] = newDocHash;
        emit LicenceAmended(licenceId, msg.sender, version, newDocHash, newValidUntil);
    }

    /// @inheritdoc ILicenceRegistry
    function bindHolder(bytes32 licenceId, address holderAddress) external {
        uint256 w = _authorised(licenceId, ROLE_ISSUER);
        Status status = _status(w);
        if (status == Status.Revoked) revert LicenceIsRevoked(licenceId, status);
        if (holderAddress == address(0)) revert InvalidHolderAddress(licenceId, holderAddress);
        _licences[licenceId] = (w & ~_HOLDER_MASK) | uint256(uint160(holderAddress));
        emit HolderBound(licenceId, holderAddress, msg.sender);
    }

    /// @inheritdoc ILicenceRegistry
    function recordSupervision(bytes32 subject, SupervisionKind kind, bytes32 refHash)
        external
        onlyRole(SUPERVISOR_ROLE)
    {
        emit SupervisionRecorded(subject, msg.sender, kind, refHash);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ILicenceRegistry
    function getLicence(bytes32 licenceId) external view returns (Licence memory licence) {
        uint256 w = _licences[licenceId];
        if (w == 0) return licence;
        licence = Licence({
            issuer: _keyAddresses[uint16(w >> _KEY_SHIFT)],
            typeId: _typeIds[uint16(w >> _TYPE_SHIFT)],
            status: _derived(w),
            version: uint16(w >> _VERSION_SHIFT),
            validUntil: uint40(w >> _UNTIL_SHIFT),
            docHash: _docHashes[licenceId]
        });
    }

    /// @inheritdoc ILicenceRegistry
    function statusOf(bytes32 licenceId) external view returns (Status) {
        return _derived(_licences[licenceId]);
    }

    /// @inheritdoc ILicenceRegistry
    function holderOf(bytes32 licenceId) external view returns (address) {
        return address(uint160(_licences[licenceId]));
    }

    /// @inheritdoc ILicenceRegistry
    function holderAndStatus(bytes32 licenceId) external view returns (address holder, Status status) {
        uint256 w = _licences[licenceId];
        return (address(uint160(w)), _derived(w));
    }

    /// @inheritdoc ILicenceRegistry
    function retiredAt(address key) external view returns (uint64) {
        return uint64(_keys[key] >> 16);
    }

    /// @inheritdoc ILicenceRegistry
    function departmentKey(uint32 keyId) external view returns (address, uint8, uint64, uint64, bytes memory) {
        uint256 w = _departmentKeys[keyId];
        return (
            address(uint160(w)),
            uint8(w >> _DK_KIND_SHIFT),
            uint64(w >> _DK_REGISTERED_SHIFT),
            uint40(w >> _DK_RETIRED_SHIFT),
            _departmentKeyBytes[keyId]
        );
    }

    /// @inheritdoc ILicenceRegistry
    function departmentKeyIds(address department) external view returns (uint32[] memory) {
        return _departmentKeyIdsOf[department];
    }

    /// @inheritdoc ILicenceRegistry
    function isCurrentDocument(bytes32 licenceId, bytes32 docHash) external view returns (bool) {
        return docHash != bytes32(0) && _docHashes[licenceId] == docHash;
    }

    /// @inheritdoc ILicenceRegistry
    function licenceIdOf(bytes32 typeId, bytes32 serial) public pure returns (bytes32) {
        return keccak256(abi.encode(typeId, serial));
    }

    /// @inheritdoc ILicenceRegistry
    function getType(bytes32 typeId) external view returns (LicenceType memory) {
        return _types[typeId];
    }

    /// @inheritdoc ILicenceRegistry
    function authorisationOf(bytes32 typeId, address department) external view returns (uint8) {
        return uint8(_authorisations[typeId][department]);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Refuses a role to a retired key (SUPERVISOR_ROLE, and the default admin hand-over too).
    function _grantRole(bytes32 role, address account) internal override returns (bool) {
        _revertIfRetired(account);
        return super._grantRole(role, account);
    }

    /// @dev The caller's key and type indices for `typeId` (`keyIndex | typeIndex << 16`) if it is an
    ///      authorised issuer of it: one storage read (a retired key has no roles left).
    function _issuerIndices(bytes32 typeId) private view returns (uint256) {
        uint256 a = _authorisations[typeId][msg.sender];
        if (a & ROLE_ISSUER == 0) _revertNotIssuer(typeId);
        return uint32(a >> 8);
    }

    function _revertNotIssuer(bytes32 typeId) private view {
        _revertIfRetired(msg.sender);
        revert NotIssuer(typeId, msg.sender);
    }

    function _revertIfRetired(address key) private view {
        uint256 k = _keys[key];
        if (uint64(k >> 16) != 0) revert KeyIsRetired(key, uint64(k >> 16));
    }

    function _issue(
        bytes32 typeId,
        uint256 indices,
        bytes32 serial,
        bytes32 holder,
        address holderAddress,
        bytes32 docHash,
        uint40 validFrom,
        uint40 validUntil
    ) private returns (bytes32 licenceId) {
        assembly ("memory-safe") {
            // keccak256(abi.encode(typeId, serial)) in scratch space
            mstore(0x00, typeId)
            mstore(0x20, serial)
            licenceId := keccak256(0x00, 0x40)
        }
        if (holder == bytes32(0)) revert InvalidHolder(licenceId);
        if (docHash == bytes32(0)) revert InvalidDocHash(licenceId);
        if (validUntil != 0 && (validUntil <= validFrom || validUntil <= block.timestamp)) {
            revert InvalidValidity(licenceId, validFrom, validUntil);
        }
        if (_licences[licenceId] != 0) revert LicenceExists(licenceId);
        _licences[licenceId] = uint256(uint160(holderAddress)) | (indices << _KEY_SHIFT)
            | (uint256(uint8(Status.Active)) << _STATUS_SHIFT) | (uint256(1) << _VERSION_SHIFT)
            | (uint256(validUntil) << _UNTIL_SHIFT);
        _docHashes[licenceId] = docHash;
        bytes32 topic0 = LicenceIssued.selector;
        assembly ("memory-safe") {
            // emit LicenceIssued(licenceId, holder, msg.sender, typeId, holderAddress, docHash,
            //                    validFrom, validUntil), encoded by hand to keep `issue` under budget
            let m := mload(0x40)
            mstore(m, typeId)
            mstore(add(m, 0x20), holderAddress)
            mstore(add(m, 0x40), docHash)
            mstore(add(m, 0x60), validFrom)
            mstore(add(m, 0x80), validUntil)
            log4(m, 0xa0, topic0, licenceId, holder, caller())
        }
    }

    /// @dev Loads an existing licence's word and checks the caller may change it: a key with `roles` of
    ///      its type, or its issuing key unless retired; one more read either way (the caller's word for
    ///      the licence's type: roles and key index, zeroed at retirement).
    function _authorised(bytes32 licenceId, uint8 roles) private view returns (uint256 w) {
        w = _licences[licenceId];
        if (w == 0) revert LicenceNotFound(licenceId);
        uint256 r = _rolesByIndex[uint16(w >> _TYPE_SHIFT)][msg.sender];
        // the licence's key index is never 0, so a zero word (no standing for the type) never matches
        if (r & roles == 0 && uint16(r >> 8) != uint16(w >> _KEY_SHIFT)) {
            _revertIfRetired(msg.sender);
            revert NotAuthorised(licenceId, msg.sender);
        }
    }

    /// @dev Accepts a seal's key only if it is the caller's own SM2 key and not retired (one read of
    ///      the key's record; issuance checks the copy of the set in the authorisation word instead).
    function _checkSealKey(uint32 keyId) private view {
        uint256 w = _departmentKeys[keyId];
        if (w & _DK_CHECK_MASK != uint256(uint160(msg.sender)) | (uint256(KEY_KIND_SM2) << _DK_KIND_SHIFT)) {
            _revertBadSealKey(keyId);
        }
    }

    /// @dev Why `keyId` may not seal for the caller: not its SM2 key, or retired.
    function _revertBadSealKey(uint32 keyId) private view {
        uint256 w = _departmentKeys[keyId];
        address department = address(uint160(w));
        uint8 kind = uint8(w >> _DK_KIND_SHIFT);
        uint64 retired = uint40(w >> _DK_RETIRED_SHIFT);
        // slither-disable-next-line incorrect-equality (an address and a kind; the time is only tested for 0)
        if (department == msg.sender && kind == KEY_KIND_SM2 && retired != 0) {
            revert DepartmentKeyIsRetired(keyId, retired);
        }
        revert InvalidSealKey(keyId, department, kind);
    }

    /// @dev Whether `keyId` is one of the (up to five) 32-bit seal key ids packed in `set`.
    function _inSealSet(uint256 set, uint32 keyId) private pure returns (bool) {
        if (keyId == 0) return false;
        for (uint256 j; j < _MAX_SEAL_KEYS; ++j) {
            if (uint32(set >> (32 * j)) == keyId) return true;
        }
        return false;
    }

    /// @dev Puts a new SM2 key into the first free field of the department's seal key set, in its key
    ///      word and in each of its authorisation words (`k` is its key word).
    function _addSealKey(address department, uint256 k, uint32 keyId) private {
        uint256 set = k >> _KEYS_SEALS_SHIFT;
        uint256 j;
        while (uint32(set >> (32 * j)) != 0) {
            if (++j == _MAX_SEAL_KEYS) revert TooManySealKeys(department, _MAX_SEAL_KEYS);
        }
        _keys[department] = k | (uint256(keyId) << (_KEYS_SEALS_SHIFT + 32 * j));
        _updateAuthorisations(department, 0, uint256(keyId) << (_AUTH_SEALS_SHIFT + 32 * j));
    }

    /// @dev Takes a retired SM2 key out of the department's seal key set (key word and every
    ///      authorisation word).
    function _removeSealKey(address department, uint32 keyId) private {
        uint256 k = _keys[department];
        uint256 set = k >> _KEYS_SEALS_SHIFT;
        for (uint256 j; j < _MAX_SEAL_KEYS; ++j) {
            // slither-disable-next-line incorrect-equality (a key id, not a time)
            if (uint32(set >> (32 * j)) == keyId) {
                _keys[department] = k & ~(uint256(type(uint32).max) << (_KEYS_SEALS_SHIFT + 32 * j));
                _updateAuthorisations(department, uint256(type(uint32).max) << (_AUTH_SEALS_SHIFT + 32 * j), 0);
                return;
            }
        }
    }

    /// @dev Every authorisation word of `department`: clear the bits of `clear`, then set those of `set`.
    function _updateAuthorisations(address department, uint256 clear, uint256 set) private {
        uint32[] storage indices = _typesOf[department];
        uint256 n = indices.length;
        for (uint256 i; i < n; ++i) {
            bytes32 typeId = _typeIds[indices[i]];
            _authorisations[typeId][department] = (_authorisations[typeId][department] & ~clear) | set;
        }
    }

    /// @dev emit LicenceSealed(licenceId, seal.keyId, version, seal.r, seal.s), encoded by hand (gas).
    function _emitSealed(bytes32 licenceId, uint256 version, Seal calldata seal) private {
        bytes32 topic0 = LicenceSealed.selector;
        uint32 keyId = seal.keyId;
        bytes32 r = seal.r;
        bytes32 s = seal.s;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, version)
            mstore(add(m, 0x20), r)
            mstore(add(m, 0x40), s)
            log3(m, 0x60, topic0, licenceId, keyId)
        }
    }

    /// @dev Whether `publicKey` is a 64-byte x || y point on the curve of `kind` (y² = x³ - 3x + b mod p).
    function _onCurve(uint8 kind, bytes calldata publicKey) private pure returns (bool) {
        uint256 p;
        uint256 b;
        if (kind == KEY_KIND_SM2) {
            (p, b) = (_SM2_P, _SM2_B);
        } else if (kind == KEY_KIND_P256) {
            (p, b) = (_P256_P, _P256_B);
        } else {
            return false;
        }
        if (publicKey.length != 64) return false;
        uint256 x = uint256(bytes32(publicKey[:32]));
        uint256 y = uint256(bytes32(publicKey[32:]));
        if (x >= p || y >= p) return false;
        uint256 rhs = addmod(mulmod(mulmod(x, x, p), x, p), mulmod(p - 3, x, p), p);
        return mulmod(y, y, p) == addmod(rhs, b, p);
    }

    function _status(uint256 w) private pure returns (Status) {
        return Status(uint8(w >> _STATUS_SHIFT));
    }

    function _withStatus(uint256 w, Status status) private pure returns (uint256) {
        return (w & ~_STATUS_MASK) | (uint256(uint8(status)) << _STATUS_SHIFT);
    }

    function _derived(uint256 w) private view returns (Status) {
        Status status = _status(w);
        if (status == Status.NotFound || status == Status.Revoked) return status;
        uint40 validUntil = uint40(w >> _UNTIL_SHIFT);
        if (validUntil != 0 && block.timestamp >= validUntil) return Status.Expired;
        return status;
    }
}
