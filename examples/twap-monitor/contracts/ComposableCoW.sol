// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// The demo's stand-in for CoW Protocol's conditional orders as deployed on mainnet: ComposableCoW, the
/// TWAP handler and CurrentBlockTimestampFactory, written from what cowprotocol/composable-cow's
/// ComposableCoW.sol, types/twap/TWAP.sol, TWAPOrder.sol, TWAPOrderMathLib.sol and
/// BaseConditionalOrder.sol do (not copied from them). A watcher sees what it sees on mainnet: the same
/// events, the same functions and selectors, the same custom errors with the same arguments and
/// reasons at the same times. Left out, because no watcher decision depends on them: Safes and the
/// ExtensibleFallbackHandler (owners here are plain accounts, so the signature is the non-Safe form
/// `abi.encode(order, payload)`, as the real contract returns for such an owner), swap guards, and the
/// settlement path (`isValidSafeSignature`, `verify`). Nothing here looks at balances: the order book does.
/// Demo-only contracts (a token, a handler that fails on purpose) are in DemoOnly.sol.

/// IConditionalOrder's errors: what a handler reverts with, and what a watcher reads.
interface IConditionalOrder {
    struct ConditionalOrderParams {
        address handler;
        bytes32 salt;
        bytes staticInput;
    }

    error OrderNotValid(string reason);
    error PollTryNextBlock(string reason);
    error PollTryAtBlock(uint256 blockNumber, string reason);
    error PollTryAtEpoch(uint256 timestamp, string reason);
    error PollNever(string reason);
}

/// GPv2Order.Data, field for field.
struct GPv2OrderData {
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

/// A handler that generates orders (IConditionalOrderGenerator: its ERC-165 id is what ComposableCoW checks).
interface IConditionalOrderGenerator {
    function getTradeableOrder(address owner, address sender, bytes32 ctx, bytes calldata staticInput, bytes calldata offchainInput)
        external
        view
        returns (GPv2OrderData memory);
}

interface IERC165 {
    function supportsInterface(bytes4 interfaceId) external view returns (bool);
}

/// A value stored in the cabinet when an order is created with context.
interface IValueFactory {
    function getValue(bytes calldata data) external view returns (bytes32);
}

contract ComposableCoW {
    /// Where the proofs of a Merkle root can be found: 0 private, 1 emitted (in the log's `data`), 2 Swarm,
    /// 3 Waku, 4 reserved, 5 IPFS. For `EMITTED`, `data` is abi.encode((bytes32[] proof, params)[]).
    struct Proof {
        uint256 location;
        bytes data;
    }

    struct PayloadStruct {
        bytes32[] proof;
        IConditionalOrder.ConditionalOrderParams params;
        bytes offchainInput;
    }

    event ConditionalOrderCreated(address indexed owner, IConditionalOrder.ConditionalOrderParams params);
    event MerkleRootSet(address indexed owner, bytes32 root, Proof proof);

    error ProofNotAuthed();
    error SingleOrderNotAuthed();
    error InterfaceNotSupported();
    error InvalidHandler();

    mapping(address => bytes32) public roots;
    mapping(address => mapping(bytes32 => bool)) public singleOrders;
    mapping(address => mapping(bytes32 => bytes32)) public cabinet;

    function setRoot(bytes32 root, Proof calldata proof) public {
        roots[msg.sender] = root;
        emit MerkleRootSet(msg.sender, root, proof);
    }

    /// The cabinet's slot for a Merkle root's orders is bytes32(0).
    function setRootWithContext(bytes32 root, Proof calldata proof, IValueFactory factory, bytes calldata data) external {
        setRoot(root, proof);
        cabinet[msg.sender][bytes32(0)] = factory.getValue(data);
    }

    function create(IConditionalOrder.ConditionalOrderParams calldata params, bool dispatch) public {
        if (params.handler == address(0)) revert InvalidHandler();
        singleOrders[msg.sender][hash(params)] = true;
        if (dispatch) emit ConditionalOrderCreated(msg.sender, params);
    }

    /// A single order whose context (e.g. the block's timestamp, for a TWAP with t0 = 0) the factory gives.
    function createWithContext(IConditionalOrder.ConditionalOrderParams calldata params, IValueFactory factory, bytes calldata data, bool dispatch)
        external
    {
        create(params, dispatch);
        cabinet[msg.sender][hash(params)] = factory.getValue(data);
    }

    /// Cancels a single order and clears its context (no event: the mainnet contract emits none).
    function remove(bytes32 singleOrderHash) external {
        singleOrders[msg.sender][singleOrderHash] = false;
        cabinet[msg.sender][singleOrderHash] = bytes32(0);
    }

    function hash(IConditionalOrder.ConditionalOrderParams memory params) public pure returns (bytes32) {
        return keccak256(abi.encode(params));
    }

    /// The order the handler gives now and its signature; reverts with the handler's error when there is
    /// none, with SingleOrderNotAuthed / ProofNotAuthed when the owner did not authorise it.
    function getTradeableOrderWithSignature(
        address owner,
        IConditionalOrder.ConditionalOrderParams calldata params,
        bytes calldata offchainInput,
        bytes32[] calldata proof
    ) external view returns (GPv2OrderData memory order, bytes memory signature) {
        bytes32 ctx = authorised(owner, params, proof);
        try IERC165(params.handler).supportsInterface(type(IConditionalOrderGenerator).interfaceId) returns (bool supported) {
            if (!supported) revert InterfaceNotSupported();
        } catch {
            revert InterfaceNotSupported();
        }
        order = IConditionalOrderGenerator(params.handler).getTradeableOrder(owner, msg.sender, ctx, params.staticInput, offchainInput);
        signature = abi.encode(order, PayloadStruct({proof: proof, params: params, offchainInput: offchainInput}));
    }

    /// A proof authorises a leaf of the owner's root; no proof, a single order. The context is the
    /// order's hash for a single order and bytes32(0) for a Merkle leaf.
    function authorised(address owner, IConditionalOrder.ConditionalOrderParams calldata params, bytes32[] calldata proof)
        internal
        view
        returns (bytes32 ctx)
    {
        if (proof.length == 0) {
            ctx = hash(params);
            if (!singleOrders[owner][ctx]) revert SingleOrderNotAuthed();
            return ctx;
        }
        // The leaf is hashed twice (OpenZeppelin's standard Merkle tree); pairs are hashed sorted.
        bytes32 node = keccak256(bytes.concat(hash(params)));
        for (uint256 i = 0; i < proof.length; i++) {
            node = node < proof[i] ? keccak256(abi.encodePacked(node, proof[i])) : keccak256(abi.encodePacked(proof[i], node));
        }
        if (node != roots[owner]) revert ProofNotAuthed();
    }
}

/// The TWAP handler: n parts of partSellAmount, one every t seconds from t0 (from the cabinet when t0 is
/// 0), each valid for its whole interval or, when span > 0, for its first span seconds. Errors, in the
/// order the real handler checks: the static input's validity, then "before twap start", "after twap
/// finish" (from t0 + n·t), "not within span" — all OrderNotValid(reason), never a Poll* hint.
contract TWAP is IConditionalOrderGenerator, IERC165 {
    struct Data {
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

    bytes32 constant KIND_SELL = keccak256("sell");
    bytes32 constant BALANCE_ERC20 = keccak256("erc20");

    ComposableCoW public immutable composableCow;

    constructor(ComposableCoW _composableCow) {
        composableCow = _composableCow;
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == type(IConditionalOrderGenerator).interfaceId || interfaceId == type(IERC165).interfaceId;
    }

    function getTradeableOrder(address owner, address, bytes32 ctx, bytes calldata staticInput, bytes calldata)
        external
        view
        returns (GPv2OrderData memory order)
    {
        Data memory twap = abi.decode(staticInput, (Data));
        if (twap.t0 == 0) twap.t0 = uint256(composableCow.cabinet(owner, ctx));
        validate(twap);
        uint256 validTo = currentValidTo(twap);
        // Past the start and before the finish: the only way to be past validTo is the gap after a span.
        if (block.timestamp > validTo) revert IConditionalOrder.OrderNotValid("not within span");
        order = GPv2OrderData({
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

    function validate(Data memory twap) internal pure {
        if (twap.sellToken == twap.buyToken) revert IConditionalOrder.OrderNotValid("same token");
        if (twap.sellToken == address(0) || twap.buyToken == address(0)) revert IConditionalOrder.OrderNotValid("invalid token");
        if (twap.partSellAmount == 0) revert IConditionalOrder.OrderNotValid("invalid part sell amount");
        if (twap.minPartLimit == 0) revert IConditionalOrder.OrderNotValid("invalid min part limit");
        if (twap.t0 >= type(uint32).max) revert IConditionalOrder.OrderNotValid("invalid start time");
        if (twap.n <= 1 || twap.n > type(uint32).max) revert IConditionalOrder.OrderNotValid("invalid num parts");
        if (twap.t == 0 || twap.t > 365 days) revert IConditionalOrder.OrderNotValid("invalid frequency");
        if (twap.span > twap.t) revert IConditionalOrder.OrderNotValid("invalid span");
    }

    /// The current part's last valid second (inclusive, as GPv2Order's validTo).
    function currentValidTo(Data memory twap) internal view returns (uint256) {
        if (block.timestamp < twap.t0) revert IConditionalOrder.OrderNotValid("before twap start");
        if (block.timestamp >= twap.t0 + twap.n * twap.t) revert IConditionalOrder.OrderNotValid("after twap finish");
        uint256 start = twap.t0 + ((block.timestamp - twap.t0) / twap.t) * twap.t;
        return twap.span == 0 ? start + twap.t - 1 : start + twap.span - 1;
    }
}

/// The value factory TWAPs with t0 = 0 are created with: the creating block's timestamp.
contract CurrentBlockTimestampFactory is IValueFactory {
    function getValue(bytes calldata) external view returns (bytes32) {
        return bytes32(block.timestamp);
    }
}
