/**
 * Which images a chunked transfer may index as its base: the tenant's own standby images of the
 * VM type in the target cloud (not deleted), newest first; never another tenant's, another
 * type's or another cloud's. (The DONE-clone half is exercised end to end by clone-agents.)
 */
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { createDataSource } from '../../src/adapters/postgres/data-source';
import { transferBaseImages } from '../../src/services/transfer-base-images';
import { createTestDatabase, TestDatabase } from '../support/database';

let db: TestDatabase;
let ds: DataSource;

beforeAll(async () => {
  db = await createTestDatabase();
  ds = createDataSource(db.url, 2);
  await ds.initialize();
});

afterAll(async () => {
  await ds?.destroy();
  await db?.drop();
});

async function standby(tenantId: string, vmTypeId: string, cloudId: string, imageId: string, ageS: number, deleted = false) {
  await ds.query(
    `INSERT INTO standby_images (tenant_id, vm_type_id, cloud_id, image_id, source_vm_id, created_by_job_id, expires_at, deleted_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, now() + interval '1 hour', $7, now() - make_interval(secs => $8))`,
    [tenantId, vmTypeId, cloudId, imageId, randomUUID(), randomUUID(), deleted ? new Date() : null, ageS],
  );
}

it("finds only the tenant's own standby images of the type in the cloud, newest first, deleted ones left out", async () => {
  const [tenant, other, type, otherType, cloud, otherCloud] = Array.from({ length: 6 }, () => randomUUID());
  await standby(tenant, type, cloud, 'old', 300);
  await standby(tenant, type, cloud, 'new', 10);
  await standby(tenant, type, cloud, 'gone', 5, true);
  await standby(other, type, cloud, 'other-tenant', 1);
  await standby(tenant, otherType, cloud, 'other-type', 1);
  await standby(tenant, type, otherCloud, 'other-cloud', 1);
  const find = transferBaseImages(ds);
  expect(await find({ tenantId: tenant, vmTypeId: type, cloudId: cloud, jobId: randomUUID() })).toEqual(['new', 'old']);
  expect(await find({ tenantId: other, vmTypeId: type, cloudId: cloud, jobId: randomUUID() })).toEqual(['other-tenant']);
  expect(await find({ tenantId: randomUUID(), vmTypeId: type, cloudId: cloud, jobId: randomUUID() })).toEqual([]);
});
