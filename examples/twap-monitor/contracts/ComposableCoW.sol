// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// The demo's stand-in for CoW Protocol's ComposableCoW with its TWAP handler in one contract. The
/// parts a watcher sees are the real ones: `create(params, dispatch)` emits
/// `ConditionalOrderCreated(owner, params)`, `remove(hash)` cancels, and
/// `getTradeableOrderWithSignature(owner, params, offchainInput, proof)` returns the current TWAP part
/// or reverts with the custom errors watch-tower understands (`PollTryNextBlock`, `PollTryAtBlock`,
/// `PollTryAtEpoch`, `PollNever`, `OrderNotValid`, and `ProofNotAuthed` for a removed order).
/// TWAP semantics follow cowprotocol/composable-cow's TWAP.sol and TWAPOrderMathLib: `n` parts of
/// `t` seconds from `t0`; part i is valid from `t0 + i*t` until the part's end, or for `span` seconds
/// when `span` is not 0. Two demo-only conditions make the remaining hints occur: an owner on hold
/// until a block (`PollTryAtBlock`), and an owner whose deposit cannot cover a part (`PollTryNextBlock`).
contract ComposableCoW {
    struct ConditionalOrderParams {
        address handler;
        bytes32 salt;
        bytes staticInput;
    }

    /// GPv2Order.Data
    struct Order {
        address sellToken;
        address buyToken;
        address receiver;
        uint256 sellAmount;
        uint256 buyAmount;
        uint32 validTo;
        bytes32 appData;
        uint256 feeAmount;
        bytes32 kind;
        bool partiallyFillable;
        bytes32 sellTokenBalance;
        bytes32 buyTokenBalance;
    }

    /// TWAP.sol's static input
    struct TWAPData {
        address sellToken;
        address buyToken;
        address receiver;
        uint256 partSellAmount;
        uint256 minPartLimit;
        uint256 t0;
        uint256 n;
        uint256 t;
        uint256 span;
        bytes32 appData;
    }

    event ConditionalOrderCreated(address indexed owner, ConditionalOrderParams params);

    error ProofNotAuthed();
    error OrderNotValid(string reason);
    error PollTryNextBlock(string reason);
    error PollTryAtBlock(uint256 blockNumber, string reason);
    error PollTryAtEpoch(uint256 timestamp, string reason);
    error PollNever(string reason);

    bytes32 constant KIND_SELL = keccak256("sell");
    bytes32 constant BALANCE_ERC20 = keccak256("erc20");

    mapping(address => mapping(bytes32 => bool)) public singleOrders;
    /// Demo: a deposit per owner that must cover a part's sell amount.
    mapping(address => uint256) public deposits;
    /// Demo: no part is tradeable before this block.
    mapping(address => uint256) public holdUntil;

    function create(ConditionalOrderParams calldata params, bool dispatch) external {
        singleOrders[msg.sender][hash(params)] = true;
        if (dispatch) emit ConditionalOrderCreated(msg.sender, params);
    }

    function remove(bytes32 singleOrderHash) external {
        singleOrders[msg.sender][singleOrderHash] = false;
    }

    function deposit(uint256 amount) external {
        deposits[msg.sender] += amount;
    }

    function hold(uint256 untilBlock) external {
        holdUntil[msg.sender] = untilBlock;
    }

    function hash(ConditionalOrderParams calldata params) public pure returns (bytes32) {
        return keccak256(abi.encode(params));
    }

    function getTradeableOrderWithSignature(
        address owner,
        ConditionalOrderParams calldata params,
        bytes calldata offchainInput,
        bytes32[] calldata proof
    ) external view returns (Order memory order, bytes memory signature) {
        if (!singleOrders[owner][hash(params)]) revert ProofNotAuthed();
        if (params.handler != address(this)) revert OrderNotValid("unknown handler");
        order = twapPart(abi.decode(params.staticInput, (TWAPData)));
        if (holdUntil[owner] > block.number) revert PollTryAtBlock(holdUntil[owner], "owner on hold");
        if (deposits[owner] < order.sellAmount) revert PollTryNextBlock("balance insufficient");
        signature = abi.encode(order, params, offchainInput, proof);
    }

    function twapPart(TWAPData memory twap) internal view returns (Order memory order) {
        if (twap.sellToken == twap.buyToken) revert OrderNotValid("same token");
        if (twap.sellToken == address(0) || twap.buyToken == address(0)) revert OrderNotValid("invalid token");
        if (twap.partSellAmount == 0) revert OrderNotValid("invalid part sell amount");
        if (twap.minPartLimit == 0) revert OrderNotValid("invalid min part limit");
        if (twap.t0 >= type(uint32).max) revert OrderNotValid("invalid start time");
        if (twap.n <= 1 || twap.n > type(uint32).max) revert OrderNotValid("invalid num parts");
        if (twap.t == 0 || twap.t > 365 days) revert OrderNotValid("invalid frequency");
        if (twap.span > twap.t) revert OrderNotValid("invalid span");

        if (block.timestamp < twap.t0) revert PollTryAtEpoch(twap.t0, "before twap start");
        uint256 part = (block.timestamp - twap.t0) / twap.t;
        if (part >= twap.n) revert PollNever("after twap finish");
        uint256 start = twap.t0 + part * twap.t;
        uint256 validTo = twap.span == 0 ? start + twap.t - 1 : start + twap.span - 1;
        if (block.timestamp > validTo) revert PollTryAtEpoch(start + twap.t, "not within span");

        order = Order({
            sellToken: twap.sellToken,
            buyToken: twap.buyToken,
            receiver: twap.receiver,
            sellAmount: twap.partSellAmount,
            buyAmount: twap.minPartLimit,
            validTo: uint32(validTo),
            appData: twap.appData,
            feeAmount: 0,
            kind: KIND_SELL,
            partiallyFillable: false,
            sellTokenBalance: BALANCE_ERC20,
            buyTokenBalance: BALANCE_ERC20
        });
    }
}
