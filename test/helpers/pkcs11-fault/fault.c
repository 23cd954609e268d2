/*
 * A fault-injecting PKCS#11 module, for tests only. It forwards every call to a real module (SoftHSM2's by
 * default) and, under the control of a small text file, behaves as a USB token does and SoftHSM2 cannot:
 *
 *  - the token is pulled out: after `sign_budget` more C_Sign calls, the next one answers
 *    CKR_DEVICE_REMOVED and the token is gone — the slot stays (C_GetSlotList(FALSE)) without
 *    CKF_TOKEN_PRESENT, C_GetSlotList(TRUE) omits it, C_GetTokenInfo / C_OpenSession answer
 *    CKR_TOKEN_NOT_PRESENT, every call on a session answers CKR_DEVICE_REMOVED; the sessions and the login
 *    are lost (the real module's sessions are closed), so after re-insertion (`present=1`) the old session
 *    handles answer CKR_SESSION_HANDLE_INVALID and the application must open and log in again;
 *  - the user PIN locks: with `pin_tries=K`, wrong PINs are counted (`pin_failures`, kept in the file as
 *    a token keeps them across sessions and processes); C_GetTokenInfo shows CKF_USER_PIN_COUNT_LOW after a
 *    wrong PIN, CKF_USER_PIN_FINAL_TRY when the next wrong one locks, CKF_USER_PIN_LOCKED after K; a locked
 *    token answers CKR_PIN_LOCKED to every C_Login as user, even with the right PIN, until the security
 *    officer sets a new PIN (C_InitPIN); a right PIN resets the count.
 *
 * Environment: TRUC_PKCS11_FAULT_MODULE — the real module (default SoftHSM2's); TRUC_PKCS11_FAULT_FILE —
 * the control file, `key=value` lines: present (1|0), sign_budget (-1 = no limit), pin_tries (0 = off),
 * pin_failures, and signed (C_Sign calls forwarded that succeeded, written by the module). Without the
 * file the module only forwards. The file is re-read on every call the module acts on, and rewritten
 * (atomically, by rename) when the module changes it, so a test — or several processes — steer one token.
 *
 * The PKCS#11 declarations below are written from the specification (PKCS#11 v2.40, the function list's
 * order and the CK_ types' C layout on Unix); structures the module does not look into are void pointers.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV, CK_SLOT_ID, CK_FLAGS, CK_USER_TYPE, CK_MECHANISM_TYPE;
typedef CK_ULONG S; /* CK_SESSION_HANDLE */
typedef CK_ULONG O; /* CK_OBJECT_HANDLE */
typedef unsigned char CK_BYTE, CK_BBOOL, CK_UTF8CHAR;
typedef struct { CK_BYTE major, minor; } CK_VERSION;
/* CK_SLOT_INFO and CK_TOKEN_INFO both open with 96 bytes of blank-padded text before their flags */
typedef struct { CK_UTF8CHAR text[96]; CK_FLAGS flags; } INFO_HEAD;

#define CKR_OK 0x0UL
#define CKR_ARGUMENTS_BAD 0x7UL
#define CKR_DEVICE_REMOVED 0x32UL
#define CKR_PIN_INCORRECT 0xA0UL
#define CKR_PIN_LOCKED 0xA4UL
#define CKR_SESSION_HANDLE_INVALID 0xB3UL
#define CKR_TOKEN_NOT_PRESENT 0xE0UL
#define CKR_CRYPTOKI_ALREADY_INITIALIZED 0x191UL
#define CKR_FUNCTION_FAILED 0x6UL
#define CKF_TOKEN_PRESENT 0x1UL
#define CKF_REMOVABLE_DEVICE 0x2UL
#define CKF_USER_PIN_COUNT_LOW 0x10000UL
#define CKF_USER_PIN_FINAL_TRY 0x20000UL
#define CKF_USER_PIN_LOCKED 0x40000UL
#define CKU_USER 1UL

typedef struct CK_FUNCTION_LIST CK_FUNCTION_LIST;

/* the 68 functions of CK_FUNCTION_LIST, in the specification's order */
#define FUNCTIONS(F)                                                                                         \
  F(C_Initialize, (void *a))                                                                                 \
  F(C_Finalize, (void *r))                                                                                   \
  F(C_GetInfo, (void *i))                                                                                    \
  F(C_GetFunctionList, (CK_FUNCTION_LIST * *pp))                                                             \
  F(C_GetSlotList, (CK_BBOOL present, CK_SLOT_ID * list, CK_ULONG * count))                                  \
  F(C_GetSlotInfo, (CK_SLOT_ID slot, INFO_HEAD * info))                                                      \
  F(C_GetTokenInfo, (CK_SLOT_ID slot, INFO_HEAD * info))                                                     \
  F(C_GetMechanismList, (CK_SLOT_ID slot, CK_MECHANISM_TYPE * list, CK_ULONG * count))                       \
  F(C_GetMechanismInfo, (CK_SLOT_ID slot, CK_MECHANISM_TYPE type, void *info))                               \
  F(C_InitToken, (CK_SLOT_ID slot, CK_UTF8CHAR * pin, CK_ULONG pinLen, CK_UTF8CHAR * label))                 \
  F(C_InitPIN, (S h, CK_UTF8CHAR * pin, CK_ULONG pinLen))                                                    \
  F(C_SetPIN, (S h, CK_UTF8CHAR * oldPin, CK_ULONG oldLen, CK_UTF8CHAR * newPin, CK_ULONG newLen))           \
  F(C_OpenSession, (CK_SLOT_ID slot, CK_FLAGS flags, void *app, void *notify, S *ph))                        \
  F(C_CloseSession, (S h))                                                                                   \
  F(C_CloseAllSessions, (CK_SLOT_ID slot))                                                                   \
  F(C_GetSessionInfo, (S h, void *info))                                                                     \
  F(C_GetOperationState, (S h, CK_BYTE * st, CK_ULONG * len))                                                \
  F(C_SetOperationState, (S h, CK_BYTE * st, CK_ULONG len, O enc, O auth))                                   \
  F(C_Login, (S h, CK_USER_TYPE user, CK_UTF8CHAR * pin, CK_ULONG pinLen))                                   \
  F(C_Logout, (S h))                                                                                         \
  F(C_CreateObject, (S h, void *t, CK_ULONG n, O *ph))                                                       \
  F(C_CopyObject, (S h, O o, void *t, CK_ULONG n, O *ph))                                                    \
  F(C_DestroyObject, (S h, O o))                                                                             \
  F(C_GetObjectSize, (S h, O o, CK_ULONG * size))                                                            \
  F(C_GetAttributeValue, (S h, O o, void *t, CK_ULONG n))                                                    \
  F(C_SetAttributeValue, (S h, O o, void *t, CK_ULONG n))                                                    \
  F(C_FindObjectsInit, (S h, void *t, CK_ULONG n))                                                           \
  F(C_FindObjects, (S h, O *ph, CK_ULONG max, CK_ULONG * count))                                             \
  F(C_FindObjectsFinal, (S h))                                                                               \
  F(C_EncryptInit, (S h, void *m, O k))                                                                      \
  F(C_Encrypt, (S h, CK_BYTE * in, CK_ULONG inLen, CK_BYTE * out, CK_ULONG * outLen))                        \
  F(C_EncryptUpdate, (S h, CK_BYTE * in, CK_ULONG inLen, CK_BYTE * out, CK_ULONG * outLen))                  \
  F(C_EncryptFinal, (S h, CK_BYTE * out, CK_ULONG * outLen))                                                 \
  F(C_DecryptInit, (S h, void *m, O k))                                                                      \
  F(C_Decrypt, (S h, CK_BYTE * in, CK_ULONG inLen, CK_BYTE * out, CK_ULONG * outLen))                        \
  F(C_DecryptUpdate, (S h, CK_BYTE * in, CK_ULONG inLen, CK_BYTE * out, CK_ULONG * outLen))                  \
  F(C_DecryptFinal, (S h, CK_BYTE * out, CK_ULONG * outLen))                                                 \
  F(C_DigestInit, (S h, void *m))                                                                            \
  F(C_Digest, (S h, CK_BYTE * in, CK_ULONG inLen, CK_BYTE * out, CK_ULONG * outLen))                         \
  F(C_DigestUpdate, (S h, CK_BYTE * in, CK_ULONG inLen))                                                     \
  F(C_DigestKey, (S h, O k))                                                                                 \
  F(C_DigestFinal, (S h, CK_BYTE * out, CK_ULONG * outLen))                                                  \
  F(C_SignInit, (S h, void *m, O k))                                                                         \
  F(C_Sign, (S h, CK_BYTE * in, CK_ULONG inLen, CK_BYTE * out, CK_ULONG * outLen))                           \
  F(C_SignUpdate, (S h, CK_BYTE * in, CK_ULONG inLen))                                                       \
  F(C_SignFinal, (S h, CK_BYTE * out, CK_ULONG * outLen))                                                    \
  F(C_SignRecoverInit, (S h, void *m, O k))                                                                  \
  F(C_SignRecover, (S h, CK_BYTE * in, CK_ULONG inLen, CK_BYTE * out, CK_ULONG * outLen))                    \
  F(C_VerifyInit, (S h, void *m, O k))                                                                       \
  F(C_Verify, (S h, CK_BYTE * in, CK_ULONG inLen, CK_BYTE * sig, CK_ULONG sigLen))                           \
  F(C_VerifyUpdate, (S h, CK_BYTE * in, CK_ULONG inLen))                                                     \
  F(C_VerifyFinal, (S h, CK_BYTE * sig, CK_ULONG sigLen))                                                    \
  F(C_VerifyRecoverInit, (S h, void *m, O k))                                                                \
  F(C_VerifyRecover, (S h, CK_BYTE * sig, CK_ULONG sigLen, CK_BYTE * out, CK_ULONG * outLen))                \
  F(C_DigestEncryptUpdate, (S h, CK_BYTE * in, CK_ULONG inLen, CK_BYTE * out, CK_ULONG * outLen))            \
  F(C_DecryptDigestUpdate, (S h, CK_BYTE * in, CK_ULONG inLen, CK_BYTE * out, CK_ULONG * outLen))            \
  F(C_SignEncryptUpdate, (S h, CK_BYTE * in, CK_ULONG inLen, CK_BYTE * out, CK_ULONG * outLen))              \
  F(C_DecryptVerifyUpdate, (S h, CK_BYTE * in, CK_ULONG inLen, CK_BYTE * out, CK_ULONG * outLen))            \
  F(C_GenerateKey, (S h, void *m, void *t, CK_ULONG n, O *ph))                                               \
  F(C_GenerateKeyPair, (S h, void *m, void *pubT, CK_ULONG pubN, void *privT, CK_ULONG privN, O *pub, O *priv)) \
  F(C_WrapKey, (S h, void *m, O wrapping, O k, CK_BYTE * out, CK_ULONG * outLen))                            \
  F(C_UnwrapKey, (S h, void *m, O unwrapping, CK_BYTE * in, CK_ULONG inLen, void *t, CK_ULONG n, O *ph))     \
  F(C_DeriveKey, (S h, void *m, O base, void *t, CK_ULONG n, O *ph))                                         \
  F(C_SeedRandom, (S h, CK_BYTE * seed, CK_ULONG len))                                                       \
  F(C_GenerateRandom, (S h, CK_BYTE * out, CK_ULONG len))                                                    \
  F(C_GetFunctionStatus, (S h))                                                                              \
  F(C_CancelFunction, (S h))                                                                                 \
  F(C_WaitForSlotEvent, (CK_FLAGS flags, CK_SLOT_ID * slot, void *r))

#define FIELD(name, params) CK_RV(*name) params;
struct CK_FUNCTION_LIST {
  CK_VERSION version;
  FUNCTIONS(FIELD)
};

static CK_FUNCTION_LIST *real;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* --- the control file --- */

static struct {
  long present, sign_budget, pin_tries, pin_failures, signed_count;
} st;
/* the presence this process last acted on: -1 before the first look */
static long seen_present = -1;
/* removals seen by this process; a session remembers the one it was opened in */
static unsigned long epoch;
#define MAX_SESSIONS 4096
static struct { S h; unsigned long epoch; } sessions[MAX_SESSIONS];

static const char *control(void) {
  const char *f = getenv("TRUC_PKCS11_FAULT_FILE");
  return f && *f ? f : NULL;
}

static void load(void) {
  st.present = 1;
  st.sign_budget = -1;
  st.pin_tries = 0;
  st.pin_failures = 0;
  st.signed_count = 0;
  const char *path = control();
  FILE *f = path ? fopen(path, "r") : NULL;
  if (!f) return;
  char line[128];
  while (fgets(line, sizeof line, f)) {
    char key[64];
    long v;
    if (sscanf(line, " %63[a-z_] = %ld", key, &v) != 2) continue;
    if (!strcmp(key, "present")) st.present = v ? 1 : 0;
    else if (!strcmp(key, "sign_budget")) st.sign_budget = v;
    else if (!strcmp(key, "pin_tries")) st.pin_tries = v;
    else if (!strcmp(key, "pin_failures")) st.pin_failures = v;
    else if (!strcmp(key, "signed")) st.signed_count = v;
  }
  fclose(f);
}

static void save(void) {
  const char *path = control();
  if (!path) return;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  fprintf(f, "present=%ld\nsign_budget=%ld\npin_tries=%ld\npin_failures=%ld\nsigned=%ld\n", st.present,
          st.sign_budget, st.pin_tries, st.pin_failures, st.signed_count);
  fclose(f);
  rename(tmp, path);
}

/* The token left: its sessions and its login go with it. */
static void pulled(void) {
  epoch++;
  CK_SLOT_ID slots[64];
  CK_ULONG n = 64;
  if (real->C_GetSlotList(0, slots, &n) != CKR_OK) return;
  for (CK_ULONG i = 0; i < n; i++) real->C_CloseAllSessions(slots[i]);
}

/* Re-reads the file (call with the lock held) and acts on a removal that happened since the last look. */
static void refresh(void) {
  load();
  if (seen_present == 1 && !st.present) pulled();
  seen_present = st.present;
}

static void remember(S h) {
  for (int i = 0; i < MAX_SESSIONS; i++)
    if (sessions[i].h == h || sessions[i].h == 0) {
      sessions[i].h = h;
      sessions[i].epoch = epoch;
      return;
    }
}

static int stale(S h) {
  for (int i = 0; i < MAX_SESSIONS && sessions[i].h; i++)
    if (sessions[i].h == h) return sessions[i].epoch != epoch;
  return 0;
}

/* What a call on session h answers before reaching the real module, CKR_OK to let it through. */
static CK_RV gate(S h) {
  pthread_mutex_lock(&lock);
  refresh();
  CK_RV rv = !st.present ? CKR_DEVICE_REMOVED : stale(h) ? CKR_SESSION_HANDLE_INVALID : CKR_OK;
  pthread_mutex_unlock(&lock);
  return rv;
}

static int absent(void) {
  pthread_mutex_lock(&lock);
  refresh();
  int a = !st.present;
  pthread_mutex_unlock(&lock);
  return a;
}

/* --- the functions --- */

static CK_RV w_C_Initialize(void *a) { return real->C_Initialize(a); }
static CK_RV w_C_Finalize(void *r) {
  pthread_mutex_lock(&lock);
  memset(sessions, 0, sizeof sessions);
  seen_present = -1;
  pthread_mutex_unlock(&lock);
  return real->C_Finalize(r);
}
static CK_RV w_C_GetInfo(void *i) { return real->C_GetInfo(i); }
static CK_RV w_C_GetFunctionList(CK_FUNCTION_LIST **pp);

static CK_RV w_C_GetSlotList(CK_BBOOL present, CK_SLOT_ID *list, CK_ULONG *count) {
  if (present && absent()) {
    if (!count) return CKR_ARGUMENTS_BAD;
    *count = 0;
    return CKR_OK;
  }
  return real->C_GetSlotList(present, list, count);
}

static CK_RV w_C_GetSlotInfo(CK_SLOT_ID slot, INFO_HEAD *info) {
  CK_RV rv = real->C_GetSlotInfo(slot, info);
  if (rv != CKR_OK || !info) return rv;
  info->flags |= CKF_REMOVABLE_DEVICE; // a USB reader
  if (absent()) info->flags &= ~CKF_TOKEN_PRESENT;
  return rv;
}

static CK_RV w_C_GetTokenInfo(CK_SLOT_ID slot, INFO_HEAD *info) {
  if (absent()) return CKR_TOKEN_NOT_PRESENT;
  CK_RV rv = real->C_GetTokenInfo(slot, info);
  if (rv != CKR_OK || !info) return rv;
  pthread_mutex_lock(&lock);
  info->flags &= ~(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED);
  if (st.pin_tries > 0) {
    if (st.pin_failures > 0) info->flags |= CKF_USER_PIN_COUNT_LOW;
    if (st.pin_failures >= st.pin_tries) info->flags |= CKF_USER_PIN_LOCKED;
    else if (st.pin_failures == st.pin_tries - 1) info->flags |= CKF_USER_PIN_FINAL_TRY;
  }
  pthread_mutex_unlock(&lock);
  return rv;
}

static CK_RV w_C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE *list, CK_ULONG *count) {
  return absent() ? CKR_TOKEN_NOT_PRESENT : real->C_GetMechanismList(slot, list, count);
}
static CK_RV w_C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, void *info) {
  return absent() ? CKR_TOKEN_NOT_PRESENT : real->C_GetMechanismInfo(slot, type, info);
}
static CK_RV w_C_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR *pin, CK_ULONG pinLen, CK_UTF8CHAR *label) {
  return absent() ? CKR_TOKEN_NOT_PRESENT : real->C_InitToken(slot, pin, pinLen, label);
}

static CK_RV w_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, void *app, void *notify, S *ph) {
  if (absent()) return CKR_TOKEN_NOT_PRESENT;
  CK_RV rv = real->C_OpenSession(slot, flags, app, notify, ph);
  if (rv == CKR_OK && ph) {
    pthread_mutex_lock(&lock);
    remember(*ph);
    pthread_mutex_unlock(&lock);
  }
  return rv;
}

static CK_RV w_C_CloseAllSessions(CK_SLOT_ID slot) { return real->C_CloseAllSessions(slot); }

/* a stale handle is never passed on: the real module may have given its number to a new session */
static CK_RV w_C_CloseSession(S h) {
  CK_RV rv = gate(h);
  return rv != CKR_OK ? rv : real->C_CloseSession(h);
}

/* counts the result of a PIN check (lock held) */
static void counted(CK_RV rv) {
  if (st.pin_tries <= 0) return;
  if (rv == CKR_PIN_INCORRECT) st.pin_failures++;
  else if (rv == CKR_OK) st.pin_failures = 0;
  else return;
  save();
}

static CK_RV w_C_Login(S h, CK_USER_TYPE user, CK_UTF8CHAR *pin, CK_ULONG pinLen) {
  CK_RV rv = gate(h);
  if (rv != CKR_OK) return rv;
  if (user == CKU_USER) {
    pthread_mutex_lock(&lock);
    int locked = st.pin_tries > 0 && st.pin_failures >= st.pin_tries;
    pthread_mutex_unlock(&lock);
    if (locked) return CKR_PIN_LOCKED;
  }
  rv = real->C_Login(h, user, pin, pinLen);
  if (user == CKU_USER) {
    pthread_mutex_lock(&lock);
    load();
    counted(rv);
    pthread_mutex_unlock(&lock);
  }
  return rv;
}

static CK_RV w_C_SetPIN(S h, CK_UTF8CHAR *oldPin, CK_ULONG oldLen, CK_UTF8CHAR *newPin, CK_ULONG newLen) {
  CK_RV rv = gate(h);
  if (rv != CKR_OK) return rv;
  pthread_mutex_lock(&lock);
  int locked = st.pin_tries > 0 && st.pin_failures >= st.pin_tries;
  pthread_mutex_unlock(&lock);
  if (locked) return CKR_PIN_LOCKED;
  rv = real->C_SetPIN(h, oldPin, oldLen, newPin, newLen);
  pthread_mutex_lock(&lock);
  load();
  counted(rv);
  pthread_mutex_unlock(&lock);
  return rv;
}

/* the security officer's new user PIN unblocks the token */
static CK_RV w_C_InitPIN(S h, CK_UTF8CHAR *pin, CK_ULONG pinLen) {
  CK_RV rv = gate(h);
  if (rv != CKR_OK) return rv;
  rv = real->C_InitPIN(h, pin, pinLen);
  if (rv == CKR_OK) {
    pthread_mutex_lock(&lock);
    load();
    if (st.pin_failures) {
      st.pin_failures = 0;
      save();
    }
    pthread_mutex_unlock(&lock);
  }
  return rv;
}

/* the signature that pulls the token, when the budget is spent */
static CK_RV w_C_Sign(S h, CK_BYTE *in, CK_ULONG inLen, CK_BYTE *out, CK_ULONG *outLen) {
  pthread_mutex_lock(&lock);
  refresh();
  CK_RV rv = !st.present ? CKR_DEVICE_REMOVED : stale(h) ? CKR_SESSION_HANDLE_INVALID : CKR_OK;
  if (rv == CKR_OK && out && st.sign_budget == 0) {
    st.present = 0;
    st.sign_budget = -1;
    save();
    seen_present = 0;
    pulled();
    rv = CKR_DEVICE_REMOVED;
  } else if (rv == CKR_OK && out && st.sign_budget > 0) {
    st.sign_budget--;
    save();
  }
  pthread_mutex_unlock(&lock);
  if (rv != CKR_OK) return rv;
  rv = real->C_Sign(h, in, inLen, out, outLen);
  if (rv == CKR_OK && out && control()) {
    pthread_mutex_lock(&lock);
    load();
    st.signed_count++;
    save();
    pthread_mutex_unlock(&lock);
  }
  return rv;
}

/* every other call on a session: through the gate, then to the real module */
#define GATED(name, params, args)                                                                            \
  static CK_RV w_##name params {                                                                           \
    CK_RV rv = gate(h);                                                                                      \
    return rv != CKR_OK ? rv : real->name args;                                                              \
  }
GATED(C_GetSessionInfo, (S h, void *info), (h, info))
GATED(C_GetOperationState, (S h, CK_BYTE *s, CK_ULONG *l), (h, s, l))
GATED(C_SetOperationState, (S h, CK_BYTE *s, CK_ULONG l, O e, O a), (h, s, l, e, a))
GATED(C_Logout, (S h), (h))
GATED(C_CreateObject, (S h, void *t, CK_ULONG n, O *ph), (h, t, n, ph))
GATED(C_CopyObject, (S h, O o, void *t, CK_ULONG n, O *ph), (h, o, t, n, ph))
GATED(C_DestroyObject, (S h, O o), (h, o))
GATED(C_GetObjectSize, (S h, O o, CK_ULONG *size), (h, o, size))
GATED(C_GetAttributeValue, (S h, O o, void *t, CK_ULONG n), (h, o, t, n))
GATED(C_SetAttributeValue, (S h, O o, void *t, CK_ULONG n), (h, o, t, n))
GATED(C_FindObjectsInit, (S h, void *t, CK_ULONG n), (h, t, n))
GATED(C_FindObjects, (S h, O *ph, CK_ULONG max, CK_ULONG *count), (h, ph, max, count))
GATED(C_FindObjectsFinal, (S h), (h))
GATED(C_EncryptInit, (S h, void *m, O k), (h, m, k))
GATED(C_Encrypt, (S h, CK_BYTE *i, CK_ULONG il, CK_BYTE *o, CK_ULONG *ol), (h, i, il, o, ol))
GATED(C_EncryptUpdate, (S h, CK_BYTE *i, CK_ULONG il, CK_BYTE *o, CK_ULONG *ol), (h, i, il, o, ol))
GATED(C_EncryptFinal, (S h, CK_BYTE *o, CK_ULONG *ol), (h, o, ol))
GATED(C_DecryptInit, (S h, void *m, O k), (h, m, k))
GATED(C_Decrypt, (S h, CK_BYTE *i, CK_ULONG il, CK_BYTE *o, CK_ULONG *ol), (h, i, il, o, ol))
GATED(C_DecryptUpdate, (S h, CK_BYTE *i, CK_ULONG il, CK_BYTE *o, CK_ULONG *ol), (h, i, il, o, ol))
GATED(C_DecryptFinal, (S h, CK_BYTE *o, CK_ULONG *ol), (h, o, ol))
GATED(C_DigestInit, (S h, void *m), (h, m))
GATED(C_Digest, (S h, CK_BYTE *i, CK_ULONG il, CK_BYTE *o, CK_ULONG *ol), (h, i, il, o, ol))
GATED(C_DigestUpdate, (S h, CK_BYTE *i, CK_ULONG il), (h, i, il))
GATED(C_DigestKey, (S h, O k), (h, k))
GATED(C_DigestFinal, (S h, CK_BYTE *o, CK_ULONG *ol), (h, o, ol))
GATED(C_SignInit, (S h, void *m, O k), (h, m, k))
GATED(C_SignUpdate, (S h, CK_BYTE *i, CK_ULONG il), (h, i, il))
GATED(C_SignFinal, (S h, CK_BYTE *o, CK_ULONG *ol), (h, o, ol))
GATED(C_SignRecoverInit, (S h, void *m, O k), (h, m, k))
GATED(C_SignRecover, (S h, CK_BYTE *i, CK_ULONG il, CK_BYTE *o, CK_ULONG *ol), (h, i, il, o, ol))
GATED(C_VerifyInit, (S h, void *m, O k), (h, m, k))
GATED(C_Verify, (S h, CK_BYTE *i, CK_ULONG il, CK_BYTE *s, CK_ULONG sl), (h, i, il, s, sl))
GATED(C_VerifyUpdate, (S h, CK_BYTE *i, CK_ULONG il), (h, i, il))
GATED(C_VerifyFinal, (S h, CK_BYTE *s, CK_ULONG sl), (h, s, sl))
GATED(C_VerifyRecoverInit, (S h, void *m, O k), (h, m, k))
GATED(C_VerifyRecover, (S h, CK_BYTE *s, CK_ULONG sl, CK_BYTE *o, CK_ULONG *ol), (h, s, sl, o, ol))
GATED(C_DigestEncryptUpdate, (S h, CK_BYTE *i, CK_ULONG il, CK_BYTE *o, CK_ULONG *ol), (h, i, il, o, ol))
GATED(C_DecryptDigestUpdate, (S h, CK_BYTE *i, CK_ULONG il, CK_BYTE *o, CK_ULONG *ol), (h, i, il, o, ol))
GATED(C_SignEncryptUpdate, (S h, CK_BYTE *i, CK_ULONG il, CK_BYTE *o, CK_ULONG *ol), (h, i, il, o, ol))
GATED(C_DecryptVerifyUpdate, (S h, CK_BYTE *i, CK_ULONG il, CK_BYTE *o, CK_ULONG *ol), (h, i, il, o, ol))
GATED(C_GenerateKey, (S h, void *m, void *t, CK_ULONG n, O *ph), (h, m, t, n, ph))
GATED(C_GenerateKeyPair, (S h, void *m, void *pt, CK_ULONG pn, void *qt, CK_ULONG qn, O *pub, O *priv),
      (h, m, pt, pn, qt, qn, pub, priv))
GATED(C_WrapKey, (S h, void *m, O w, O k, CK_BYTE *o, CK_ULONG *ol), (h, m, w, k, o, ol))
GATED(C_UnwrapKey, (S h, void *m, O u, CK_BYTE *i, CK_ULONG il, void *t, CK_ULONG n, O *ph),
      (h, m, u, i, il, t, n, ph))
GATED(C_DeriveKey, (S h, void *m, O b, void *t, CK_ULONG n, O *ph), (h, m, b, t, n, ph))
GATED(C_SeedRandom, (S h, CK_BYTE *s, CK_ULONG l), (h, s, l))
GATED(C_GenerateRandom, (S h, CK_BYTE *o, CK_ULONG l), (h, o, l))
GATED(C_GetFunctionStatus, (S h), (h))
GATED(C_CancelFunction, (S h), (h))

static CK_RV w_C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID *slot, void *r) {
  return real->C_WaitForSlotEvent(flags, slot, r);
}

#define WRAPPER(name, params) w_##name,
static CK_FUNCTION_LIST list = {{2, 40}, FUNCTIONS(WRAPPER)};

static const char *const DEFAULT_MODULES[] = {
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
};

static CK_RV w_C_GetFunctionList(CK_FUNCTION_LIST **pp) {
  if (!pp) return CKR_ARGUMENTS_BAD;
  pthread_mutex_lock(&lock);
  if (!real) {
    const char *target = getenv("TRUC_PKCS11_FAULT_MODULE");
    void *h = NULL;
    if (target && *target) h = dlopen(target, RTLD_NOW | RTLD_LOCAL);
    else
      for (size_t i = 0; !h && i < sizeof DEFAULT_MODULES / sizeof *DEFAULT_MODULES; i++)
        h = dlopen(DEFAULT_MODULES[i], RTLD_NOW | RTLD_LOCAL);
    CK_RV (*get)(CK_FUNCTION_LIST **) = h ? (CK_RV(*)(CK_FUNCTION_LIST **))dlsym(h, "C_GetFunctionList") : NULL;
    // the real module stays loaded for the life of the process: SoftHSM2 is not made to be unloaded
    if (!get || get(&real) != CKR_OK) {
      real = NULL;
      pthread_mutex_unlock(&lock);
      return CKR_FUNCTION_FAILED;
    }
  }
  pthread_mutex_unlock(&lock);
  *pp = &list;
  return CKR_OK;
}

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST **pp) {
  return w_C_GetFunctionList(pp);
}
