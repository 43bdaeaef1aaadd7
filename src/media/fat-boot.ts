// FAT boot sector (BIOS parameter block) parsing: turns the first sector of a volume
// into the geometry the reader needs, or into a reason why the bytes are not FAT.
// It is pure (no I/O) so the cheap label probe and the full reader share it.

import { decodeOem, trimLabel } from './fat-dir';

export type FatType = 12 | 16 | 32;

/** Where everything lives on a FAT volume, in bytes unless said otherwise. */
export interface FatGeometry {
  readonly fatType: FatType;
  readonly bytesPerSector: number;
  readonly sectorsPerCluster: number;
  readonly clusterSize: number;
  readonly numFats: number;
  /** Byte offset of the FAT copy the reader follows (the active one on FAT32 with mirroring off). */
  readonly fatOffset: number;
  readonly fatBytes: number;
  /** FAT12/16 fixed root directory region; zero length on FAT32. */
  readonly rootDirOffset: number;
  readonly rootDirBytes: number;
  /** FAT32 root directory first cluster; 0 on FAT12/16. */
  readonly rootCluster: number;
  /** Byte offset of cluster 2, the first data cluster. */
  readonly dataOffset: number;
  /** Highest valid cluster number (clusters are numbered from 2). */
  readonly maxCluster: number;
  readonly clusterCount: number;
  /** Byte size the boot sector claims for the whole volume. */
  readonly volumeBytes: number;
  /** Label from the extended boot record, trailing spaces removed; undefined when absent. */
  readonly bootLabel: string | undefined;
}

/** The Microsoft FAT specification decides the FAT type by cluster count alone. */
const FAT12_MAX_CLUSTERS = 4084;
const FAT16_MAX_CLUSTERS = 65524;

/** Size of the boot sector the parser needs: the BPB and the signature fit in 512 bytes. */
export const BOOT_SECTOR_BYTES = 512;

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/**
 * Parse a boot sector. Returns the geometry, or a string saying why this is not a
 * usable FAT volume (the probe turns that into "not FAT", the reader into a ParseError).
 */
export function parseBootSector(b: Buffer): FatGeometry | string {
  if (b.length < BOOT_SECTOR_BYTES) return `boot sector is ${b.length} bytes, need ${BOOT_SECTOR_BYTES}`;
  // Either a jump instruction or the 0x55AA signature: blank or random data has neither,
  // while old formatters sometimes omit one of them.
  const jumpOk = b[0] === 0xeb || b[0] === 0xe9;
  const signatureOk = b[510] === 0x55 && b[511] === 0xaa;
  if (!jumpOk && !signatureOk) return 'no boot sector (no jump instruction and no 0x55AA signature)';

  const bytesPerSector = b.readUInt16LE(11);
  if (!isPowerOfTwo(bytesPerSector) || bytesPerSector < 512 || bytesPerSector > 4096) {
    return `bytes per sector ${bytesPerSector} is not 512, 1024, 2048 or 4096`;
  }
  const sectorsPerCluster = b.readUInt8(13);
  if (!isPowerOfTwo(sectorsPerCluster)) return `sectors per cluster ${sectorsPerCluster} is not a power of two`;
  const reservedSectors = b.readUInt16LE(14);
  if (reservedSectors === 0) return 'reserved sector count is 0';
  const numFats = b.readUInt8(16);
  if (numFats === 0) return 'number of FATs is 0';
  const rootEntries = b.readUInt16LE(17);
  const totalSectors16 = b.readUInt16LE(19);
  const media = b.readUInt8(21);
  if (media !== 0xf0 && media < 0xf8) return `media descriptor 0x${media.toString(16)} is not valid`;
  const fatSize16 = b.readUInt16LE(22);
  const totalSectors32 = b.readUInt32LE(32);
  const totalSectors = totalSectors16 !== 0 ? totalSectors16 : totalSectors32;
  if (totalSectors === 0) return 'total sector count is 0';
  const fatSize = fatSize16 !== 0 ? fatSize16 : b.readUInt32LE(36);
  if (fatSize === 0) return 'FAT size is 0';

  const rootDirSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const firstDataSector = reservedSectors + numFats * fatSize + rootDirSectors;
  if (firstDataSector >= totalSectors) {
    return `metadata (${firstDataSector} sectors) does not fit in the volume (${totalSectors} sectors)`;
  }
  const clusterCount = Math.floor((totalSectors - firstDataSector) / sectorsPerCluster);
  if (clusterCount === 0) return 'volume has no data clusters';

  let fatType: FatType = clusterCount <= FAT12_MAX_CLUSTERS ? 12 : clusterCount <= FAT16_MAX_CLUSTERS ? 16 : 32;
  // A FAT32-shaped BPB (no 16-bit FAT size, no fixed root) on a volume with few clusters
  // is still FAT32 to Linux and mtools; reading it as FAT16 would find no root at all.
  if (fatType !== 32 && fatSize16 === 0 && rootEntries === 0) fatType = 32;
  if (fatType === 32 && rootEntries !== 0) return 'FAT32 volume declares a fixed root directory';
  if (fatType !== 32 && rootEntries === 0) return `FAT${fatType} volume has no root directory entries`;

  let activeFat = 0;
  let rootCluster = 0;
  if (fatType === 32) {
    const extFlags = b.readUInt16LE(40);
    // Bit 7 set: mirroring off, only the FAT numbered in bits 0-3 is current.
    if (extFlags & 0x80) activeFat = extFlags & 0x0f;
    if (activeFat >= numFats) return `active FAT ${activeFat} does not exist (${numFats} FATs)`;
    const version = b.readUInt16LE(42);
    if (version !== 0) return `FAT32 version ${version >> 8}.${version & 0xff} is not supported`;
    rootCluster = b.readUInt32LE(44) & 0x0fffffff;
  }

  // The FAT itself may be too small for the cluster count a hostile BPB claims; the
  // clusters it cannot describe are unusable, as the Linux driver treats them.
  const fatBytes = fatSize * bytesPerSector;
  const fatEntries = fatType === 12 ? Math.floor((fatBytes * 2) / 3) : fatBytes / (fatType / 8);
  // Values from 0x0FFFFFF7 up are markers (bad, end of chain), never cluster numbers.
  const maxCluster = Math.min(clusterCount + 1, fatEntries - 1, 0x0ffffff6);
  if (maxCluster < 2) return 'FAT is too small to describe any cluster';
  if (fatType === 32 && (rootCluster < 2 || rootCluster > maxCluster)) {
    return `FAT32 root cluster ${rootCluster} is outside the volume`;
  }

  const extOffset = fatType === 32 ? 64 : 36;
  // Extended boot signature 0x29 means the volume id, label and type fields are present.
  const bootLabel = b[extOffset + 2] === 0x29 ? trimLabel(decodeOem(b.subarray(extOffset + 7, extOffset + 18))) : undefined;

  const sectorBytes = (n: number): number => n * bytesPerSector;
  return {
    fatType,
    bytesPerSector,
    sectorsPerCluster,
    clusterSize: sectorBytes(sectorsPerCluster),
    numFats,
    fatOffset: sectorBytes(reservedSectors + activeFat * fatSize),
    fatBytes,
    rootDirOffset: sectorBytes(reservedSectors + numFats * fatSize),
    rootDirBytes: fatType === 32 ? 0 : rootEntries * 32,
    rootCluster,
    dataOffset: sectorBytes(firstDataSector),
    maxCluster,
    clusterCount: maxCluster - 1,
    volumeBytes: sectorBytes(totalSectors),
    bootLabel,
  };
}
