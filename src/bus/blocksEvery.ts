/** The numbers in [from, end] divisible by `every`, ascending: the blocks a block trigger with that `every` wants. */
export function blocksEvery(from: bigint, end: bigint, every: number): bigint[] {
  const step = BigInt(every);
  const numbers: bigint[] = [];
  for (let n = from + ((step - (from % step)) % step); n <= end; n += step) numbers.push(n);
  return numbers;
}
