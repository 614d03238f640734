// The baseline for a piscina round trip: a worker that returns its input.
export default function echo(task) {
  return task;
}
