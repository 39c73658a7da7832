// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {
    AccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ILicenceRegistry} from "./interfaces/ILicenceRegistry.sol";

/// @title LicenceRegistry
/// @notice Licences of registered types, issued and managed by authorised departments.
/// @dev Storage per licence is two slots: one packed slot with everything a status change needs
///      (issuer, type index, status, version, end of validity), so suspend / reinstate / revoke read
///      and write exactly one slot when the issuing department acts; and the current document hash,
///      written at issuance and amendment only. The rest (holder subject, holder address, serial,
///      start of validity, reasons, history) lives in the events.
///
///      Authority over a licence: the key that issued it (the fast path: `msg.sender == issuer`, no
///      other storage read), or any key currently authorised for the licence's type (issuer: every
///      change; supervisor: suspend and reinstate). Removing a department's authorisation stops it
///      issuing and acting on other departments' licences; the department keeps authority over the
///      licences it issued itself (it stays the responsible authority, as on paper). This keeps a status
///      change at one storage slot; the cost is that a compromised issuing key keeps authority over its
///      own licences until they are superseded, so departments keep issuing keys in a wallet or HSM
///      and another issuer of the type can reinstate anything such a key suspended.
///
///      Governance is OpenZeppelin AccessControlDefaultAdminRules: a single default admin, handed
///      over in two steps after a delay, so the admin can later be a consortium multisig.
contract LicenceRegistry is ILicenceRegistry, AccessControlDefaultAdminRules {
    /// @notice Version of this contract's interface and storage.
    string public constant VERSION = "1.0.0";
    /// @notice Role of supervising departments allowed to call `recordSupervision`.
    bytes32 public constant SUPERVISOR_ROLE = keccak256("SUPERVISOR_ROLE");
    /// @notice Per-type role bit: may issue licences of the type and change any licence of the type.
    uint8 public constant ROLE_ISSUER = 1;
    /// @notice Per-type role bit: may suspend and reinstate licences of the type.
    uint8 public constant ROLE_SUPERVISOR = 2;

    // A licence's state is one packed word (one storage slot), laid out from the low bits:
    // issuer (160) | typeIndex (32) | status (8) | version (16) | validUntil (40).
    uint256 private constant _TYPE_SHIFT = 160;
    uint256 private constant _STATUS_SHIFT = 192;
    uint256 private constant _VERSION_SHIFT = 200;
    uint256 private constant _UNTIL_SHIFT = 216;
    uint256 private constant _STATUS_MASK = uint256(0xff) << _STATUS_SHIFT;
    uint256 private constant _VERSION_UNTIL_MASK = ~uint256(0) << _VERSION_SHIFT;

    // A department's authorisation for a type is one packed word: roles (8) | typeIndex (32) << 8,
    // so issuing reads one slot for both the permission and the type's compact index.

    mapping(bytes32 licenceId => uint256 state) private _licences;
    mapping(bytes32 licenceId => bytes32 docHash) private _docHashes;
    mapping(bytes32 typeId => LicenceType) private _types;
    mapping(uint32 typeIndex => bytes32 typeId) private _typeIds;
    mapping(bytes32 typeId => mapping(address department => uint256 rolesAndIndex)) private _authorisations;
    // The same roles keyed by type index, for lifecycle calls by keys other than the issuing one
    // (the licence word holds the index): one cold read instead of two.
    mapping(uint32 typeIndex => mapping(address department => uint8 roles)) private _rolesByIndex;
    uint32 private _typeCount;

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
        _authorisations[typeId][department] = uint256(roles) | (uint256(index) << 8);
        _rolesByIndex[index][department] = roles;
        emit AuthorisationSet(typeId, department, roles);
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
        uint32 typeIndex = _issuerTypeIndex(typeId);
        licenceId = _issue(typeId, typeIndex, serial, holder, holderAddress, docHash, validFrom, validUntil);
    }

    /// @inheritdoc ILicenceRegistry
    function issueBatch(IssueRequest[] calldata requests) external returns (bytes32[] memory licenceIds) {
        uint256 n = requests.length;
        licenceIds = new bytes32[](n);
        bytes32 lastType = bytes32(0);
        uint32 typeIndex = 0;
        for (uint256 i; i < n; ++i) {
            IssueRequest calldata r = requests[i];
            if (i == 0 || r.typeId != lastType) {
                typeIndex = _issuerTypeIndex(r.typeId);
                lastType = r.typeId;
            }
            licenceIds[i] =
                _issue(r.typeId, typeIndex, r.serial, r.holder, r.holderAddress, r.docHash, r.validFrom, r.validUntil);
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
        uint256 w = _authorised(licenceId, ROLE_ISSUER);
        Status status = _status(w);
        if (status == Status.Revoked) revert LicenceIsRevoked(licenceId, status);
        if (newDocHash == bytes32(0)) revert InvalidDocHash(licenceId);
        if (newValidUntil != 0 && newValidUntil <= block.timestamp) {
            revert InvalidValidity(licenceId, 0, newValidUntil);
        }
        uint16 version = uint16(w >> _VERSION_SHIFT) + 1;
        _licences[licenceId] = (w & ~_VERSION_UNTIL_MASK) | (uint256(version) << _VERSION_SHIFT)
            | (uint256(newValidUntil) << _UNTIL_SHIFT);
        _docHashes[licenceId] = newDocHash;
        emit LicenceAmended(licenceId, msg.sender, version, newDocHash, newValidUntil);
    }

    /// @inheritdoc ILicenceRegistry
    function bindHolder(bytes32 licenceId, address holderAddress) external {
        Status status = _status(_authorised(licenceId, ROLE_ISSUER));
        if (status == Status.Revoked) revert LicenceIsRevoked(licenceId, status);
        if (holderAddress == address(0)) revert InvalidHolderAddress(licenceId, holderAddress);
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
            issuer: address(uint160(w)),
            typeId: _typeIds[uint32(w >> _TYPE_SHIFT)],
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

    /// @dev The type index of `typeId` if the caller is an authorised issuer of it (one storage read).
    function _issuerTypeIndex(bytes32 typeId) private view returns (uint32) {
        uint256 a = _authorisations[typeId][msg.sender];
        if (a & ROLE_ISSUER == 0) revert NotIssuer(typeId, msg.sender);
        return uint32(a >> 8);
    }

    function _issue(
        bytes32 typeId,
        uint32 typeIndex,
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
        _licences[licenceId] = uint256(uint160(msg.sender)) | (uint256(typeIndex) << _TYPE_SHIFT)
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

    /// @dev Loads an existing licence's word and checks the caller may change it with `roles` of its type.
    function _authorised(bytes32 licenceId, uint8 roles) private view returns (uint256 w) {
        w = _licences[licenceId];
        if (w == 0) revert LicenceNotFound(licenceId);
        if (msg.sender != address(uint160(w)) && _rolesByIndex[uint32(w >> _TYPE_SHIFT)][msg.sender] & roles == 0) {
            revert NotAuthorised(licenceId, msg.sender);
        }
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
