import { ValueTransformer } from 'typeorm';

/** bigint and numeric come back from pg as strings; our values stay far below 2^53. */
export const numberTransformer: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};
