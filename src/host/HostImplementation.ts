/**
 * The host side of a generated WIT interface: the same functions, each allowed to answer
 * asynchronously (the guest blocks on the bridge either way). `typeof Store` etc. come from
 * src/host/generated/, generated from wit/module.wit.
 */
export type HostImplementation<Interface> = {
  [Name in keyof Interface]: Interface[Name] extends (...args: infer Args) => infer Result ? (...args: Args) => Result | Promise<Result> : never;
};
