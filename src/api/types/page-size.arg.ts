/** Options of every list argument `first`: its range (PAGE_SIZE) and default are in the schema, where clients read them. */
import { PAGE_SIZE } from '../../domain/page-size';

export function pageSizeArg(defaultValue: number, what: string) {
  return {
    nullable: true,
    defaultValue,
    description: `How many ${what} to return, ${PAGE_SIZE.min} to ${PAGE_SIZE.max}; out of range is BAD_USER_INPUT.`,
  };
}
