/** Bad command line: exit code 2 and a pointer to the command's help. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command: string[] = [],
  ) {
    super(message);
    this.name = 'UsageError';
  }

  /** the same in --json output as a McubeError's code */
  get code(): string {
    return 'UsageError';
  }
}
