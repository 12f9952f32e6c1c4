// How every bench server process reports its port and how it stops.
/** Prints the ready line the orchestrator waits for, and exits cleanly (so --cpu-prof can write) when told to stop. */
export function ready(port: number): void {
  process.stdout.write(`READY ${port}\n`);
  const stop = (): never => process.exit(0);
  process.on("disconnect", stop); // the orchestrator closed the IPC channel, or died
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
