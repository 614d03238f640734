// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {GPv2OrderData, IConditionalOrderGenerator, IERC165} from "./ComposableCoW.sol";

/// DEMO-ONLY contracts: nothing like them is part of CoW Protocol. They make the cases a watcher must
/// survive happen on the local chain.

/// The token the demo's TWAPs sell. The local order book (demo/orderBook.ts) reads balanceOf and
/// refuses a part with InsufficientBalance, as api.cow.fi does, until the owner holds the part's amount.
contract DemoToken {
    mapping(address => uint256) public balanceOf;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }
}

/// A handler that reverts with an error no watcher knows while it is `down`, then returns one order
/// (the static input is abi.encode(sellToken, buyToken, sellAmount, validTo)).
contract FlakyHandler is IConditionalOrderGenerator, IERC165 {
    error Unavailable(uint256 blockNumber);

    bool public down = true;

    function setDown(bool value) external {
        down = value;
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == type(IConditionalOrderGenerator).interfaceId || interfaceId == type(IERC165).interfaceId;
    }

    function getTradeableOrder(address owner, address, bytes32, bytes calldata staticInput, bytes calldata)
        external
        view
        returns (GPv2OrderData memory order)
    {
        if (down) revert Unavailable(block.number);
        (address sellToken, address buyToken, uint256 sellAmount, uint32 validTo) = abi.decode(staticInput, (address, address, uint256, uint32));
        order = GPv2OrderData({
            sellToken: sellToken,
            buyToken: buyToken,
            receiver: owner,
            sellAmount: sellAmount,
            buyAmount: 1,
            validTo: validTo,
            appData: bytes32(0),
            feeAmount: 0,
            kind: keccak256("sell"),
            partiallyFillable: false,
            sellTokenBalance: keccak256("erc20"),
            buyTokenBalance: keccak256("erc20")
        });
    }
}
