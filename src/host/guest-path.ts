// The PATH every guest program gets: the standard sbin and bin directories,
// never the caller's PATH (a context cannot redirect which tools run).
export const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
