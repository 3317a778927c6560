/** Disk images for the format-conversion tests: one made with qemu-img, and an image read back whole. */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { CloudApi } from '../../src/ports/cloud-api.port';

const MiB = 1024 * 1024;

/** A 16 MiB virtual disk: 3 MiB of pseudo-random data at 1 MiB, zeros elsewhere; returned raw, and as qcow2 written by qemu-img. */
export function makeDisk(dir: string): { raw: Buffer; qcow2File: string } {
  const raw = Buffer.alloc(16 * MiB);
  crypto.randomFillSync(raw, MiB, 3 * MiB);
  const rawFile = path.join(dir, 'disk.raw');
  const qcow2File = path.join(dir, 'disk.qcow2');
  fs.writeFileSync(rawFile, raw);
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', rawFile, qcow2File]);
  return { raw, qcow2File };
}

/** An image's bytes, downloaded whole. */
export async function download(api: CloudApi, imageId: string): Promise<Buffer> {
  const { stream } = await api.downloadImage(imageId);
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}
