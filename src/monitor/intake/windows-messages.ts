/**
 * Windows message codes in event data. The Security auditing provider writes some values as references to
 * its parameter message file (msobjs.dll): `%%4417` stands for "WriteData (or AddFile)", `%%1842` for
 * "Yes"; a list such as an AccessList is several codes separated by a line break and tabs. Event Viewer and
 * the event's message show the words; the stored XML keeps the codes. SigmaHQ rules are written both ways
 * (`AccessList|contains: 'WriteData'` for SVCCTL and ATSVC access, `'%%4417'`, `'%%8448'` for others), so
 * the intake keeps the code and adds the words beside it (see normalizeWindows) and rules see both.
 *
 * The table holds the codes of the English (en-US) message file that audit events commonly carry: access
 * rights, yes/no and impersonation levels, token elevation types, logon failure reasons, audit policy changes,
 * directions, Active Directory value operations. An unknown code stays as it is.
 */

/** Code → text, from the en-US parameter message file of the Security auditing provider. */
const MESSAGES = new Map<number, string>();

function add(first: number, texts: readonly (string | null)[]): void {
  texts.forEach((t, i) => {
    if (t !== null) MESSAGES.set(first + i, t);
  });
}

// standard access rights (the high word of every access mask)
add(1537, ['DELETE', 'READ_CONTROL', 'WRITE_DAC', 'WRITE_OWNER', 'SYNCHRONIZE', 'ACCESS_SYS_SEC', 'MAX_ALLOWED']);
// specific rights of object types the message file does not name
for (let bit = 0; bit < 16; bit++) MESSAGES.set(1552 + bit, `Unknown specific access (bit ${bit})`);
// values of changed attributes
add(1792, ['<value changed', '<value not set>', '<never>', 'Enabled', 'Disabled', 'All', 'None']);
// impersonation levels, yes/no and related
add(1832, ['Identification', 'Impersonation']);
add(1840, ['Delegation', 'Denied by Process Trust Label ACE', 'Yes', 'No', 'System', 'Not Available', 'Default', 'DisallowMmConfig', 'Off', 'Auto']);
// token elevation (4688)
add(1936, ['TokenElevationTypeDefault (1)', 'TokenElevationTypeFull (2)', 'TokenElevationTypeLimited (3)']);
// logon failure reasons (4625 FailureReason)
add(2304, [
  'An Error occured during Logon.',
  'The specified user account has expired.',
  'The NetLogon component is not active.',
  'Account locked out.',
  'The user has not been granted the requested logon type at this machine.',
  "The specified account's password has expired.",
  'Account currently disabled.',
  'Account logon time restriction violation.',
  'User not allowed to logon at this computer.',
  'Unknown user name or bad password.',
  'Domain sid inconsistent.',
  'Smartcard logon is required and was not used.',
]);
// file, directory and pipe access (4656, 4663, 5145)
add(4416, ['ReadData (or ListDirectory)', 'WriteData (or AddFile)', 'AppendData (or AddSubdirectory or CreatePipeInstance)', 'ReadEA', 'WriteEA', 'Execute/Traverse', 'DeleteChild', 'ReadAttributes', 'WriteAttributes']);
// registry key access
add(4432, ['Query key value', 'Set key value', 'Create sub-key', 'Enumerate sub-keys', 'Notify about changes to keys', 'Create Link']);
// process access (4656 on lsass and the like)
add(4480, [
  'Force process termination',
  'Create new thread in process',
  'Set process session ID',
  'Perform virtual memory operation',
  'Read from process memory',
  'Write to process memory',
  'Duplicate handle into or out of process',
  'Create a subprocess of process',
  'Set process quotas',
  'Set process information',
  'Query process information',
  'Set process termination port',
]);
// SAM domain access (4661)
add(5392, ['ReadPasswordParameters', 'WritePasswordParameters', 'ReadOtherParameters', 'WriteOtherParameters', 'CreateUser', 'CreateGlobalGroup', 'CreateLocalGroup', 'GetLocalGroupMembership', 'ListAccounts', 'LookupIDs', 'AdministerServer']);
// service control manager and service access
add(7168, ['Connect to service controller', null, 'Enumerate services', null, 'Query service database lock state']);
add(7184, [
  'Query service configuration information',
  'Set service configuration information',
  'Query status of service',
  'Enumerate dependencies of service',
  'Start the service',
  'Stop the service',
  'Pause or continue the service',
  'Query information from service',
  'Issue service-specific control commands',
]);
// directory service access (4662)
add(7680, ['Create Child', 'Delete Child', 'List Contents', 'Write Self', 'Read Property', 'Write Property', 'Delete Tree', 'List Object', 'Control Access']);
// audit policy changes (4719 AuditPolicyChanges)
add(8448, [
  'Success removed',
  'Success Added',
  'Failure removed',
  'Failure added',
  'Success include removed',
  'Success include added',
  'Success exclude removed',
  'Success exclude added',
  'Failure include removed',
  'Failure include added',
  'Failure exclude removed',
  'Failure exclude added',
]);
// filtering platform directions (5156, 5157)
add(14592, ['Inbound', 'Outbound', 'Forward', 'Bidirectional']);
// directory service value operations (5136 OperationType)
add(14674, ['Value Added', 'Value Deleted']);

const CODE = /%%(\d{1,5})/g;

/** The text of one code, or undefined when the table does not have it. */
export function windowsMessage(code: number): string | undefined {
  return MESSAGES.get(code);
}

/**
 * A value with its message codes replaced by their text in place — separators and unknown codes kept — as
 * Windows renders the event's message; undefined when the value has no known code.
 */
export function renderWindowsMessages(value: string): string | undefined {
  if (!value.includes('%%')) return undefined;
  let changed = false;
  const out = value.replace(CODE, (whole, n: string) => {
    const t = MESSAGES.get(Number(n));
    if (t === undefined) return whole;
    changed = true;
    return t;
  });
  return changed ? out : undefined;
}
