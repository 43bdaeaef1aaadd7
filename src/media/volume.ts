// The shapes shared by the user-space filesystem readers (ISO9660, FAT).
// A reader gets a BlockSource (a block device or an image file opened through the
// Host, or a Buffer in tests) and returns a Volume; it never touches node:fs, so it
// reads /dev/sr0 and a .iso file the same way and leaves nothing mounted.

/** Random-access bytes: a block device, an image file, or a buffer. */
export interface BlockSource {
  /** Device or file name, used in error messages. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Read exactly `length` bytes at `offset`; throws when the range is past the end. */
  read(offset: number, length: number): Promise<Buffer>;
}

export type VolumeEntryType = 'file' | 'dir' | 'symlink';

export interface VolumeEntry {
  /** Name inside its directory, as the guest kernel would show it (Rock Ridge / Joliet / long name). */
  readonly name: string;
  /** Absolute path inside the volume, '/'-separated, starting with '/'. */
  readonly path: string;
  readonly type: VolumeEntryType;
  readonly size: number;
  /** POSIX mode bits when the filesystem records them (Rock Ridge), else undefined. */
  readonly mode?: number;
  /** Symlink target when type is 'symlink' and the filesystem records it. */
  readonly target?: string;
}

export interface Volume {
  readonly fsType: 'iso9660' | 'vfat';
  /** Volume label (ISO9660 volume identifier, FAT label), trailing spaces removed. */
  readonly label: string;
  /** Entries of a directory; throws when the path is not a directory. */
  list(dir: string): Promise<VolumeEntry[]>;
  /** The entry at a path, or undefined when absent. */
  stat(path: string): Promise<VolumeEntry | undefined>;
  /** Whole content of a file; throws when absent, a directory, or larger than maxBytes. */
  readFile(path: string, maxBytes?: number): Promise<Buffer>;
}

/** A BlockSource over an in-memory buffer (tests, and media already read whole). */
export function bufferSource(name: string, data: Buffer): BlockSource {
  return {
    name,
    size: data.length,
    async read(offset: number, length: number): Promise<Buffer> {
      if (offset < 0 || length < 0 || offset + length > data.length) {
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is past the end (${data.length} bytes)`);
      }
      return data.subarray(offset, offset + length);
    },
  };
}
