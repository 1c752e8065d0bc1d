/** An error the user can fix: the CLI prints its message (problem + way out) and exits with code 2. */
export class UserError extends Error {
  override name = "UserError";
  constructor(message: string, readonly hint?: string) {
    super(hint ? `${message}\n  -> ${hint}` : message);
  }
}
