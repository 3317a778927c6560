/** qemu-img on spooled files: conversion, and the images the broker refuses to touch. Needs qemu-img (qemu-utils). */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { convertImageFile, ensureSpoolSpace, inspectImageFile, jobSpoolDir } from '../../src/transfer/disk-conversion';
import { detectDiskFormat } from '../../sandbox/disk/disk-format.inspector';

const MiB = 1024 * 1024;
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-qemu-img-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const file = (name: string) => path.join(dir, name);

it('converts raw -> qcow2 -> vmdk -> raw without changing the disk, and reads the virtual size', async () => {
  const raw = Buffer.alloc(4 * MiB);
  crypto.randomFillSync(raw, MiB, MiB);
  fs.writeFileSync(file('a.raw'), raw);
  await convertImageFile({ file: file('a.raw'), format: 'raw' }, { file: file('a.qcow2'), format: 'qcow2' }, 60_000);
  expect(detectDiskFormat(fs.readFileSync(file('a.qcow2')).subarray(0, 512))).toBe('qcow2');
  expect(await inspectImageFile(file('a.qcow2'), 'qcow2')).toEqual({ virtualSize: 4 * MiB });
  await convertImageFile({ file: file('a.qcow2'), format: 'qcow2' }, { file: file('a.vmdk'), format: 'vmdk' }, 60_000);
  expect(detectDiskFormat(fs.readFileSync(file('a.vmdk')).subarray(0, 512))).toBe('vmdk');
  await convertImageFile({ file: file('a.vmdk'), format: 'vmdk' }, { file: file('b.raw'), format: 'raw' }, 60_000);
  expect(fs.readFileSync(file('b.raw')).equals(raw)).toBe(true);
});

it('refuses a qcow2 whose backing file is a host file (it would copy that file into the clone)', async () => {
  execFileSync('qemu-img', ['create', '-f', 'qcow2', '-u', '-b', '/etc/hostname', '-F', 'raw', file('evil.qcow2'), '1M']);
  await expect(inspectImageFile(file('evil.qcow2'), 'qcow2')).rejects.toMatchObject({ code: 'CONVERSION_FAILED', message: expect.stringContaining('with a backing file') });
});

it('reads an image as the format it is declared, never probing: a raw image that looks like qcow2 stays raw', async () => {
  fs.copyFileSync(file('a.qcow2'), file('pretend.raw'));
  expect(await inspectImageFile(file('pretend.raw'), 'raw')).toEqual({ virtualSize: fs.statSync(file('a.qcow2')).size });
});

it('fails a conversion of garbage with qemu-img\'s own words, and keeps formats off the allow-list off the command line', async () => {
  fs.writeFileSync(file('garbage.qcow2'), crypto.randomBytes(4096));
  await expect(convertImageFile({ file: file('garbage.qcow2'), format: 'qcow2' }, { file: file('g.raw'), format: 'raw' }, 60_000)).rejects.toMatchObject({
    code: 'CONVERSION_FAILED',
    message: expect.stringMatching(/^qemu-img convert failed: .*qcow2/i),
  });
  await expect(convertImageFile({ file: file('a.raw'), format: 'raw' }, { file: file('x'), format: '--help' as 'raw' }, 60_000)).rejects.toMatchObject({
    code: 'DISK_FORMAT_UNSUPPORTED',
  });
});

it('checks free space against what is needed plus the reserve', async () => {
  await expect(ensureSpoolSpace(dir, 1, 0, 'spool a byte')).resolves.toBeUndefined();
  await expect(ensureSpoolSpace(dir, 1, 1024 ** 5, 'spool a byte')).rejects.toMatchObject({ code: 'SPOOL_SPACE', message: expect.stringContaining(`not enough free disk space in ${dir} to spool a byte`) });
});

it('spools each job in a folder named by its id, and only ids that are safe as names', () => {
  const settings = { spoolDir: dir, reserveBytes: 0, timeoutMs: 1000 };
  expect(jobSpoolDir(settings, 'c0ffee-12')).toBe(path.join(dir, 'job-c0ffee-12'));
  expect(() => jobSpoolDir(settings, '../etc')).toThrow('not usable as a folder name');
});
