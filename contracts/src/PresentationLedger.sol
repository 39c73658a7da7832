// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IPresentationLedger} from "./interfaces/IPresentationLedger.sol";

/// @title PresentationLedger
/// @notice One storage slot per spent presentation statement: the verifier and the time, so a
///         single-use token is accepted once on the whole network.
/// @dev No roles and no admin: a spend proves nothing but "this statement was taken first by
///      this account", which is all a verifier needs to refuse a replay elsewhere.
contract PresentationLedger is IPresentationLedger {
    /// @notice Version of this contract's interface and storage.
    string public constant VERSION = "1.0.0";

    // statement => time (64 bits) | verifier (160 bits) << 64
    mapping(bytes32 statement => uint256 record) private _spent;

    /// @inheritdoc IPresentationLedger
    function spend(bytes32[] calldata statements) external {
        uint256 record = uint256(uint64(block.timestamp)) | (uint256(uint160(msg.sender)) << 64);
        uint256 n = statements.length;
        for (uint256 i; i < n; ++i) {
            bytes32 statement = statements[i];
            if (statement == bytes32(0)) revert ZeroStatement();
            if (_spent[statement] != 0) continue;
            _spent[statement] = record;
            emit Spent(statement, msg.sender);
        }
    }

    /// @inheritdoc IPresentationLedger
    function spentBy(bytes32 statement) external view returns (address verifier, uint64 at) {
        uint256 record = _spent[statement];
        return (address(uint160(record >> 64)), uint64(record));
    }
}
