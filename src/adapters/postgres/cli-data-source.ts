/** Data source for the TypeORM CLI (`npm run migration:generate -- migrations/Name`). */
import { createDataSource } from './data-source';

export default createDataSource(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/intercloud_dev');
