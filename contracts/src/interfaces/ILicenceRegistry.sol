// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title ILicenceRegistry
/// @notice Licences issued by government departments: issuance, amendment, suspension, reinstatement,
///         revocation, holder binding, and supervision facts recorded against a holder subject.
/// @dev Storage keeps only what on-chain checks need (who may change a licence, its status, version,
///      end of validity, current document hash, and the holder's wallet address, which the
///      ConsentRegistry reads to decide whether a grant comes from the licence's holder). Everything
///      else is in the events, which carry
///      enough data for an indexer to rebuild the full history of every licence without storage reads:
///      join the lifecycle events to `LicenceIssued` on `licenceId` for the holder subject and type.
///
///      Identifiers:
///      - `typeId` is `keccak256(bytes(code))` of the type's stable code (e.g. "FOOD-OPERATION").
///      - `licenceId` is `keccak256(abi.encode(typeId, serial))`; `serial` is the department's licence
///        number (e.g. its keccak256, or the ASCII number left-aligned in 32 bytes).
///      - `holder` is the holder subject: a hash, never a clear identifier (see the product brief).
interface ILicenceRegistry {
    /// @notice Status of a licence. `NotFound` and `Expired` are derived by the views, never stored.
    enum Status {
        NotFound,
        Active,
        Suspended,
        Revoked,
        Expired
    }

    /// @notice Kinds of supervision facts a supervising department records against a holder subject.
    enum SupervisionKind {
        AbnormalOperationListed,
        AbnormalOperationRemoved,
        AdministrativePenalty
    }

    /// @notice A registered licence type.
    /// @param index Compact number assigned at registration (1, 2, …), stored with each licence.
    /// @param schemaHash Hash of the JSON schema of the type's documents.
    /// @param name Human-readable name.
    struct LicenceType {
        uint32 index;
        bytes32 schemaHash;
        string name;
    }

    /// @notice What the registry knows about a licence.
    /// @param issuer The department key that issued it.
    /// @param typeId The licence type.
    /// @param status Derived status: Active, Suspended, Revoked or Expired (NotFound if unknown).
    /// @param version 1 at issuance, + 1 per amendment.
    /// @param validUntil End of validity (unix seconds, exclusive); 0 means no end ("长期").
    /// @param docHash Hash of the current document; older versions' hashes are in `LicenceAmended` events.
    struct Licence {
        address issuer;
        bytes32 typeId;
        Status status;
        uint16 version;
        uint40 validUntil;
        bytes32 docHash;
    }

    /// @notice One licence to issue.
    /// @param typeId The licence type; the caller must be an authorised issuer of it.
    /// @param serial The department's licence number (see the contract notes); `(typeId, serial)` is unique.
    /// @param holder The holder subject (hash of the normalised USCC, or keyed hash of a citizen ID).
    /// @param holderAddress The holder's wallet address if already known, else address(0).
    /// @param docHash Hash of the licence document.
    /// @param validFrom Start of validity (unix seconds); recorded in the event only.
    /// @param validUntil End of validity (unix seconds, exclusive), or 0 for no end.
    struct IssueRequest {
        bytes32 typeId;
        bytes32 serial;
        bytes32 holder;
        address holderAddress;
        bytes32 docHash;
        uint40 validFrom;
        uint40 validUntil;
    }

    /// @notice A department's e-seal over a licence's GB/T 36903 metadata (see docs/standards.md).
    /// @param keyId The department key (kind `KEY_KIND_SM2`) that made it; it must be the caller's own
    ///        and not retired.
    /// @param r The SM2 signature's r (GM/T 0003, SM3 with the signer's Z value), big-endian.
    /// @param s The SM2 signature's s, big-endian.
    struct Seal {
        uint32 keyId;
        bytes32 r;
        bytes32 s;
    }

    // ------------------------------------------------------------------ events

    /// @notice The admin registered a licence type.
    event LicenceTypeRegistered(bytes32 indexed typeId, uint32 index, bytes32 schemaHash, string name);

    /// @notice The admin set the roles of `department` for a type (0 removes all).
    /// @param roles Bit set of `ROLE_ISSUER` (1) and `ROLE_SUPERVISOR` (2).
    event AuthorisationSet(bytes32 indexed typeId, address indexed department, uint8 roles);

    /// @notice A licence was issued, with status Active and version 1.
    /// @dev The serial is not repeated here (the id commits to it, and the document carries the licence
    ///      number): leaving it out keeps `issue` under its gas budget.
    event LicenceIssued(
        bytes32 indexed licenceId,
        bytes32 indexed holder,
        address indexed issuer,
        bytes32 typeId,
        address holderAddress,
        bytes32 docHash,
        uint40 validFrom,
        uint40 validUntil
    );

    /// @notice A licence was suspended by `by` (its issuer, or an issuer or supervisor of its type).
    event LicenceSuspended(bytes32 indexed licenceId, address indexed by, uint16 reasonCode);

    /// @notice A suspended licence was made active again.
    event LicenceReinstated(bytes32 indexed licenceId, address indexed by);

    /// @notice A licence was revoked; this is final.
    event LicenceRevoked(bytes32 indexed licenceId, address indexed by, uint16 reasonCode);

    /// @notice A licence was amended: new document, new end of validity, version + 1.
    event LicenceAmended(
        bytes32 indexed licenceId, address indexed by, uint16 version, bytes32 docHash, uint40 validUntil
    );

    /// @notice The issuer bound the holder's wallet address to a licence (after identity checks);
    ///         `holderOf(licenceId)` is now `holderAddress` (a re-binding moves it).
    event HolderBound(bytes32 indexed licenceId, address indexed holderAddress, address indexed by);

    /// @notice The admin retired a department key: from `retiredAt` it can change nothing (not even the
    ///         licences it issued), its per-type roles and SUPERVISOR_ROLE are removed, and it can never
    ///         be authorised again. Licences it issued keep their validity.
    event KeyRetired(address indexed key, uint64 retiredAt);

    /// @notice A department key (not a transaction key: an SM2 e-seal key, a P-256 credential key …)
    ///         was registered for `department`.
    /// @param kind 1: SM2 e-seal key; 2: P-256 credential key.
    /// @param publicKey The uncompressed point x || y (64 bytes for kinds 1 and 2).
    event DepartmentKeyRegistered(address indexed department, uint32 indexed keyId, uint8 kind, bytes publicKey);

    /// @notice A department key was retired: from `retiredAt` nothing it signs is accepted on chain;
    ///         what it signed before stays valid, and its record stays readable.
    event DepartmentKeyRetired(address indexed department, uint32 indexed keyId, uint64 retiredAt);

    /// @notice A licence version carries the e-seal (r, s) made by department key `keyId` over its
    ///         GB/T 36903 metadata: emitted by `issueSealed` / `issueBatchSealed` (version 1) and
    ///         `amendSealed` (the new version), right after `LicenceIssued` / `LicenceAmended`.
    event LicenceSealed(bytes32 indexed licenceId, uint32 indexed keyId, uint32 version, bytes32 r, bytes32 s);

    /// @notice A supervising department recorded a fact against a holder subject.
    /// @param refHash Hash of the decision document (listing notice, penalty decision …).
    event SupervisionRecorded(
        bytes32 indexed subject, address indexed supervisor, SupervisionKind indexed kind, bytes32 refHash
    );

    // ------------------------------------------------------------------ errors

    /// @notice No licence type with this id is registered.
    error UnknownLicenceType(bytes32 typeId);
    /// @notice A licence type with this id is already registered.
    error LicenceTypeExists(bytes32 typeId);
    /// @notice A type needs a non-zero id and schema hash and a non-empty name.
    error InvalidLicenceType(bytes32 typeId);
    /// @notice `roles` has bits other than ROLE_ISSUER and ROLE_SUPERVISOR, or the department is address(0).
    error InvalidAuthorisation(bytes32 typeId, address department, uint8 roles);
    /// @notice `account` is not an authorised issuer of `typeId`.
    error NotIssuer(bytes32 typeId, address account);
    /// @notice `account` may not make this change to `licenceId`.
    error NotAuthorised(bytes32 licenceId, address account);
    /// @notice No licence has this id.
    error LicenceNotFound(bytes32 licenceId);
    /// @notice A licence with this id (same type and serial) already exists.
    error LicenceExists(bytes32 licenceId);
    /// @notice The licence is not Active (`status` is its stored status).
    error LicenceNotActive(bytes32 licenceId, Status status);
    /// @notice The licence is not Suspended (`status` is its stored status).
    error LicenceNotSuspended(bytes32 licenceId, Status status);
    /// @notice The licence is revoked; revocation is final.
    error LicenceIsRevoked(bytes32 licenceId, Status status);
    /// @notice The holder subject must not be zero.
    error InvalidHolder(bytes32 licenceId);
    /// @notice The document hash must not be zero.
    error InvalidDocHash(bytes32 licenceId);
    /// @notice The validity window is empty or already over (`validUntil` 0 means no end; `validFrom`
    ///         is 0 when the error comes from `amend`).
    error InvalidValidity(bytes32 licenceId, uint40 validFrom, uint40 validUntil);
    /// @notice A holder address cannot be address(0).
    error InvalidHolderAddress(bytes32 licenceId, address holderAddress);
    /// @notice `key` was retired at `retiredAt`: it may not act, and may not be authorised or retired again.
    error KeyIsRetired(address key, uint64 retiredAt);
    /// @notice No more licence types or department keys can be registered (each is stored as a 16-bit index).
    error RegistryFull(uint256 limit);
    /// @notice `account` may not register or retire keys of `department` (only the department itself,
    ///         if it is a department the registry knows and not retired, or the default admin).
    error NotKeyManager(address department, address account);
    /// @notice `department` has never been authorised for a type (it is no department of this registry).
    error UnknownDepartment(address department);
    /// @notice An unknown key kind, or a public key of the wrong length or not a point of its curve.
    error InvalidDepartmentKey(uint8 kind, uint256 length);
    /// @notice This public key is registered already (as `keyId`); a key is registered once, ever.
    error DepartmentKeyExists(uint32 keyId);
    /// @notice No department key has this id.
    error UnknownDepartmentKey(uint32 keyId);
    /// @notice The department key was retired at `retiredAt` (it seals nothing more; retiring twice).
    error DepartmentKeyIsRetired(uint32 keyId, uint64 retiredAt);
    /// @notice The seal's key is not an SM2 e-seal key of the caller: it belongs to `department`
    ///         (address(0) if there is no such key) and is of kind `kind`.
    error InvalidSealKey(uint32 keyId, address department, uint8 kind);
    /// @notice `department` has `limit` SM2 seal keys in service already; retire one first.
    error TooManySealKeys(address department, uint256 limit);
    /// @notice A sealed batch needs exactly one seal per request.
    error SealCountMismatch(uint256 requests, uint256 seals);

    // ------------------------------------------------------------------ governance

    /// @notice Registers a licence type. Only the default admin.
    /// @param typeId `keccak256(bytes(code))` of the type's stable code.
    function registerType(bytes32 typeId, string calldata name, bytes32 schemaHash) external;

    /// @notice Sets the roles of `department` for a registered type. Only the default admin.
    /// @param roles Bit set of ROLE_ISSUER (1: issue, and change any licence of the type) and
    ///        ROLE_SUPERVISOR (2: suspend and reinstate licences of the type); 0 removes both.
    function setAuthorisation(bytes32 typeId, address department, uint8 roles) external;

    /// @notice Retires a department key for good (a leaked or replaced key). Only the default admin.
    ///         Removes its roles for every type it was ever authorised for and its SUPERVISOR_ROLE; from
    ///         then on it cannot issue, amend, bind, suspend, reinstate or revoke anything (its own
    ///         licences included) and cannot be authorised or granted a role again (`KeyIsRetired`).
    ///         Licences it issued stay valid; keys currently authorised for their type keep authority
    ///         over them. Reverts `KeyIsRetired` if already retired, `InvalidAuthorisation` for address(0).
    function retireKey(address key) external;

    // ------------------------------------------------------------------ department keys

    /// @notice Registers a department key: by the department itself (an address the admin has
    ///         authorised for some type at least once, not retired), or by the default admin for it.
    ///         `kind` 1 is an SM2 e-seal key (GM/T 0003 curve), 2 a P-256 credential key; `publicKey` is
    ///         the uncompressed point x || y (64 bytes), checked to lie on the kind's curve. A public
    ///         key is registered once, ever (`DepartmentKeyExists`). A department has at most five
    ///         SM2 keys in service at a time (`TooManySealKeys`).
    /// @return keyId The key's number: 1, 2, … in order of registration over all departments.
    function registerDepartmentKey(address department, uint8 kind, bytes calldata publicKey)
        external
        returns (uint32 keyId);

    /// @notice Retires a department key for good (the department itself, not retired, or the default
    ///         admin): from now on seals by it are refused; seals made before stay valid. Reverts
    ///         `DepartmentKeyIsRetired` the second time.
    function retireDepartmentKey(uint32 keyId) external;

    // ------------------------------------------------------------------ issuance

    /// @notice Issues one licence. Only an authorised issuer of the type.
    /// @return licenceId `keccak256(abi.encode(typeId, serial))`.
    function issue(
        bytes32 typeId,
        bytes32 serial,
        bytes32 holder,
        address holderAddress,
        bytes32 docHash,
        uint40 validFrom,
        uint40 validUntil
    ) external returns (bytes32 licenceId);

    /// @notice Issues several licences (of any types the caller issues) in one transaction; all or none.
    function issueBatch(IssueRequest[] calldata requests) external returns (bytes32[] memory licenceIds);

    /// @notice `issue` with the department's e-seal: also emits `LicenceSealed(licenceId, keyId, 1, r, s)`.
    ///         The seal's key must be the caller's own SM2 key and not retired (`InvalidSealKey`,
    ///         `DepartmentKeyIsRetired`); the signature itself is checked off chain (no SM2 on the EVM).
    function issueSealed(IssueRequest calldata request, Seal calldata seal) external returns (bytes32 licenceId);

    /// @notice `issueBatch` with one seal per request (`SealCountMismatch` otherwise); all or none.
    function issueBatchSealed(IssueRequest[] calldata requests, Seal[] calldata seals)
        external
        returns (bytes32[] memory licenceIds);

    // ------------------------------------------------------------------ lifecycle
    // Who may: the department key that issued the licence unless it was retired, or a key currently
    // authorised as issuer of its type; suspend and reinstate also a supervisor of its type. A retired
    // key reverts `KeyIsRetired`, any other key `NotAuthorised`.

    /// @notice Active → Suspended. The licence's issuer, or an issuer or supervisor of its type.
    function suspend(bytes32 licenceId, uint16 reasonCode) external;

    /// @notice Suspended → Active. The licence's issuer, or an issuer or supervisor of its type.
    function reinstate(bytes32 licenceId) external;

    /// @notice Active or Suspended → Revoked (final). The licence's issuer, or an issuer of its type.
    function revoke(bytes32 licenceId, uint16 reasonCode) external;

    /// @notice Replaces the document and end of validity; version + 1; the old document hash no longer
    ///         verifies as current. Not on revoked licences. The licence's issuer, or an issuer of its type.
    function amend(bytes32 licenceId, bytes32 newDocHash, uint40 newValidUntil) external;

    /// @notice `amend` with the department's e-seal over the new version's metadata: also emits
    ///         `LicenceSealed(licenceId, keyId, newVersion, r, s)`; the key rules of `issueSealed`.
    function amendSealed(bytes32 licenceId, bytes32 newDocHash, uint40 newValidUntil, Seal calldata seal) external;

    /// @notice Binds the holder's wallet address: `holderOf(licenceId)` becomes `holderAddress` (a
    ///         re-binding moves it, and the previous holder's grants stop being authorized). Not on
    ///         revoked licences. The licence's issuer, or an issuer of its type.
    function bindHolder(bytes32 licenceId, address holderAddress) external;

    /// @notice Records a supervision fact against a holder subject (event only). Only SUPERVISOR_ROLE.
    function recordSupervision(bytes32 subject, SupervisionKind kind, bytes32 refHash) external;

    // ------------------------------------------------------------------ views

    /// @notice The licence record; all zero with status NotFound for an unknown id.
    function getLicence(bytes32 licenceId) external view returns (Licence memory);

    /// @notice Current status: NotFound, Active, Suspended, Revoked, or Expired (from the block time;
    ///         a revoked licence stays Revoked).
    function statusOf(bytes32 licenceId) external view returns (Status);

    /// @notice The holder's wallet address (set by `issue` with a holder address, moved by
    ///         `bindHolder`), or address(0) if none is bound.
    function holderOf(bytes32 licenceId) external view returns (address);

    /// @notice `holderOf(licenceId)` and `statusOf(licenceId)` in one call (one storage read; what the
    ///         ConsentRegistry checks for every licence grant).
    function holderAndStatus(bytes32 licenceId) external view returns (address holder, Status status);

    /// @notice When `key` was retired (unix seconds), or 0 if it is not retired.
    function retiredAt(address key) external view returns (uint64);

    /// @notice A department key's record (all zero for an unknown id; a retired key stays readable).
    /// @return department The department it belongs to.
    /// @return kind 1: SM2 e-seal key; 2: P-256 credential key.
    /// @return registeredAt When it was registered (unix seconds).
    /// @return retiredAt When it was retired (unix seconds), 0 while in service.
    /// @return publicKey The uncompressed point x || y.
    function departmentKey(uint32 keyId)
        external
        view
        returns (address department, uint8 kind, uint64 registeredAt, uint64 retiredAt, bytes memory publicKey);

    /// @notice Every key id ever registered for `department` (retired ones included), oldest first.
    function departmentKeyIds(address department) external view returns (uint32[] memory);

    /// @notice Whether `docHash` is the licence's current document (false after an amendment replaced it).
    function isCurrentDocument(bytes32 licenceId, bytes32 docHash) external view returns (bool);

    /// @notice `keccak256(abi.encode(typeId, serial))`.
    function licenceIdOf(bytes32 typeId, bytes32 serial) external pure returns (bytes32);

    /// @notice The registered type (index 0 if unknown).
    function getType(bytes32 typeId) external view returns (LicenceType memory);

    /// @notice Roles of `department` for `typeId` (bit set of ROLE_ISSUER and ROLE_SUPERVISOR).
    function authorisationOf(bytes32 typeId, address department) external view returns (uint8);
}
