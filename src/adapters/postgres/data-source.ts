/** The TypeORM data source: entities, migrations, naming. Never `synchronize`. */
import path from 'node:path';
import { DataSource } from 'typeorm';
import { entities } from '../../domain/entities';
import { SnakeNamingStrategy } from './snake-naming.strategy';

export function createDataSource(url: string, poolSize = 10): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities,
    migrations: [path.join(__dirname, '../../../migrations/*.{ts,js}')],
    migrationsTableName: 'typeorm_migrations',
    namingStrategy: new SnakeNamingStrategy(),
    // gen_random_uuid() is built into PostgreSQL 13+; no extension to install.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    synchronize: false,
    migrationsRun: false,
    logging: false,
    // A broker stalled inside a transaction (paused, frozen) must not hold row locks for ever: the server ends such sessions.
    extra: { max: poolSize, application_name: 'intercloud-broker', options: '-c idle_in_transaction_session_timeout=15000' },
  });
}
