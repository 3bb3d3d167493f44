// The audit log's address, apart from its screen so that linking to it
// does not load the screen.
export const AUDIT_PATH = '/audit';
