/**
 * The one range every list argument `first` accepts. The API refuses anything outside it before
 * running an operation (so no `first` can make an operation's estimated cost negative or huge),
 * and the services hold to the same bounds.
 */
export const PAGE_SIZE = { min: 1, max: 500 } as const;
