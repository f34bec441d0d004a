/*
 * cconv's native protected-file encoder: the same format as src/encrypt/pf/encoder.ts (Gramine
 * protected files 2.0; layout in format.ts), for a whole plaintext held in memory, encrypted on a
 * libuv thread-pool thread and written with pwrite at an offset of an open file.
 *
 * Why native: every 4 KiB node has its own AES-128-GCM key. Node's crypto API builds a new cipher
 * context per key (about 4 us of setup per node, ~550 MB/s per core before any format work);
 * OpenSSL re-keys one EVP context in well under a microsecond. The OpenSSL used is Node's own
 * (its symbols are exported by the node binary; the headers come with Node), so there is nothing
 * to link and no second OpenSSL in the process.
 *
 * JS API (native.ts): encode(key: Buffer(16), path: Buffer (UTF-8, normalised, no NUL, <= 771
 * bytes), plain: Buffer, fd: number, offset: number) -> Promise<number> (nodes written), and, for
 * the streaming encoder's data nodes, gcmNodes(plain: Buffer (k x 4096), out: Buffer (same size),
 * keys: Buffer (k x 16), tags: Buffer (k x 16)) -> Promise<void>: k nodes under k fresh keys, on
 * a thread-pool thread (the caller must not touch the buffers until it settles). Node keys
 * and the metadata nonce come from RAND_bytes; every key encrypts exactly one node, so the all-zero
 * IV is never reused with a key. Intermediate plaintext (MHT nodes, metadata) is cleansed.
 */
#define NAPI_VERSION 8
#include <errno.h>
#include <node_api.h>
#include <pthread.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODE_SIZE 4096
#define KEY_SIZE 16
#define MAC_SIZE 16
#define NONCE_SIZE 32
#define PATH_SIZE 772
#define MD_DATA_SIZE 3072
#define HEADER_SIZE 59
#define MD_ENCRYPTED_SIZE 3884
#define DATA_PER_MHT 96
#define CHILDREN_PER_MHT 32
#define ENTRY_SIZE (KEY_SIZE + MAC_SIZE)

static const unsigned char ZERO_IV[12] = {0};
static const char KDF_LABEL[] = "SGX-PROTECTED-FS-METADATA-KEY";

typedef struct {
  /* inputs */
  unsigned char key[KEY_SIZE];
  unsigned char path[PATH_SIZE];
  size_t path_len;
  const unsigned char *plain;
  size_t size;
  int fd;
  int64_t offset;
  napi_ref plain_ref;
  /* outputs */
  int64_t nodes;
  int err;           /* errno of a failed write, or 0 */
  const char *fail;  /* a crypto failure, or NULL */
  napi_async_work work;
  napi_deferred deferred;
} Job;

/* Fetched once (OpenSSL 3 algorithm fetches are not free), shared by every thread; contexts are per job. */
static EVP_CIPHER *gcm_cipher;
static EVP_MAC *cmac;
static pthread_once_t fetched = PTHREAD_ONCE_INIT;
static void fetch_algorithms(void) {
  gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
  cmac = EVP_MAC_fetch(NULL, "CMAC", NULL);
}

static int64_t data_physical(int64_t i) { return i + 2 + i / DATA_PER_MHT; }
static int64_t mht_physical(int64_t j) { return 1 + j * (DATA_PER_MHT + 1); }

/*
 * AES-128-GCM of `in` under `key` (used once) with the all-zero IV, on a context set up for
 * AES-128-GCM once: only the key and IV are set here, which is the cheap re-key path.
 */
static int gcm(EVP_CIPHER_CTX *c, const unsigned char *key, const unsigned char *in, int len, unsigned char *out, unsigned char *tag) {
  int n = 0, f = 0;
  if (EVP_EncryptInit_ex2(c, NULL, key, ZERO_IV, NULL) != 1) return 0;
  if (EVP_EncryptUpdate(c, out, &n, in, len) != 1) return 0;
  if (EVP_EncryptFinal_ex(c, out + n, &f) != 1) return 0;
  return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, MAC_SIZE, tag) == 1;
}

/* metadata key = AES-128-CMAC(wrap key, le32 1 | label padded to 64 | nonce | le32 128). */
static int metadata_key(const unsigned char *wrap, const unsigned char *nonce, unsigned char *out) {
  unsigned char input[4 + 64 + NONCE_SIZE + 4] = {0};
  input[0] = 1;
  memcpy(input + 4, KDF_LABEL, sizeof KDF_LABEL - 1);
  memcpy(input + 68, nonce, NONCE_SIZE);
  input[100] = 0x80;
  int ok = 0;
  size_t outl = 0;
  EVP_MAC_CTX *ctx = cmac ? EVP_MAC_CTX_new(cmac) : NULL;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, "AES-128-CBC", 0), OSSL_PARAM_construct_end()};
  if (ctx && EVP_MAC_init(ctx, wrap, KEY_SIZE, params) == 1 && EVP_MAC_update(ctx, input, sizeof input) == 1 &&
      EVP_MAC_final(ctx, out, &outl, KEY_SIZE) == 1 && outl == KEY_SIZE)
    ok = 1;
  EVP_MAC_CTX_free(ctx);
  return ok;
}

/* Encodes the whole file into `out` (total nodes * 4096 bytes, zeroed). Returns NULL or a failure. */
static const char *encode(Job *j, unsigned char *out, int64_t data, int64_t mht, EVP_CIPHER_CTX *c) {
  unsigned char tag[MAC_SIZE], root_key[KEY_SIZE] = {0}, root_mac[MAC_SIZE] = {0};
  unsigned char node[NODE_SIZE];
  const unsigned char *key;
  unsigned char *tree = mht > 0 ? calloc((size_t)mht, NODE_SIZE) : NULL; /* MHT plaintexts */
  /* One fresh key per node, drawn from the CSPRNG in one call. */
  size_t nkeys = (size_t)(data + mht) * KEY_SIZE;
  unsigned char *keys = nkeys > 0 ? malloc(nkeys) : NULL;
  const char *fail = NULL;
  if ((mht > 0 && tree == NULL) || (nkeys > 0 && keys == NULL)) fail = "out of memory";
  else if (nkeys > 0 && RAND_bytes(keys, (int)nkeys) != 1) fail = "RAND_bytes failed";
  for (int64_t i = 0; i < data && !fail; i++) {
    size_t at = MD_DATA_SIZE + (size_t)i * NODE_SIZE;
    size_t n = j->size - at < NODE_SIZE ? j->size - at : NODE_SIZE;
    const unsigned char *src = j->plain + at;
    if (n < NODE_SIZE) { /* the last node, zero-padded as Gramine does */
      memset(node, 0, NODE_SIZE);
      memcpy(node, src, n);
      src = node;
    }
    key = keys + i * KEY_SIZE;
    if (!gcm(c, key, src, NODE_SIZE, out + data_physical(i) * NODE_SIZE, tag)) fail = "AES-GCM failed";
    else {
      unsigned char *e = tree + (i / DATA_PER_MHT) * NODE_SIZE + (i % DATA_PER_MHT) * ENTRY_SIZE;
      memcpy(e, key, KEY_SIZE);
      memcpy(e + KEY_SIZE, tag, MAC_SIZE);
    }
  }
  /* MHT nodes, children (higher indices) before parents. */
  for (int64_t m = mht - 1; m >= 0 && !fail; m--) {
    key = keys + (data + m) * KEY_SIZE;
    if (!gcm(c, key, tree + m * NODE_SIZE, NODE_SIZE, out + mht_physical(m) * NODE_SIZE, tag)) { fail = "AES-GCM failed"; break; }
    if (m == 0) {
      memcpy(root_key, key, KEY_SIZE);
      memcpy(root_mac, tag, MAC_SIZE);
    } else {
      int64_t parent = (m - 1) / CHILDREN_PER_MHT, entry = DATA_PER_MHT + (m - 1) % CHILDREN_PER_MHT;
      unsigned char *e = tree + parent * NODE_SIZE + entry * ENTRY_SIZE;
      memcpy(e, key, KEY_SIZE);
      memcpy(e + KEY_SIZE, tag, MAC_SIZE);
    }
  }
  if (tree) {
    OPENSSL_cleanse(tree, (size_t)mht * NODE_SIZE);
    free(tree);
  }
  if (keys) {
    OPENSSL_cleanse(keys, nkeys);
    free(keys);
  }
  if (!fail) {
    unsigned char md[MD_ENCRYPTED_SIZE] = {0}, nonce[NONCE_SIZE], md_key[KEY_SIZE];
    uint64_t size = j->size;
    memcpy(md, j->path, j->path_len); /* NUL-terminated: the rest of the field is zero */
    for (int b = 0; b < 8; b++) md[PATH_SIZE + b] = (unsigned char)(size >> (8 * b));
    memcpy(md + PATH_SIZE + 8, root_key, KEY_SIZE);
    memcpy(md + PATH_SIZE + 8 + KEY_SIZE, root_mac, MAC_SIZE);
    memcpy(md + PATH_SIZE + 8 + KEY_SIZE + MAC_SIZE, j->plain, j->size < MD_DATA_SIZE ? j->size : MD_DATA_SIZE);
    if (RAND_bytes(nonce, NONCE_SIZE) != 1) fail = "RAND_bytes failed";
    else if (!metadata_key(j->key, nonce, md_key)) fail = "AES-CMAC failed";
    else if (!gcm(c, md_key, md, MD_ENCRYPTED_SIZE, out + HEADER_SIZE, tag)) fail = "AES-GCM failed";
    else {
      static const unsigned char file_id[8] = {'G', 'R', 'A', 'F', 'S', '_', 'P', 'F'}; /* 0x46505f5346415247 LE */
      memcpy(out, file_id, 8);
      out[8] = 2; /* major */
      out[9] = 0; /* minor */
      memcpy(out + 10, nonce, NONCE_SIZE);
      memcpy(out + 42, tag, MAC_SIZE);
      out[58] = 0; /* flags */
    }
    OPENSSL_cleanse(md, sizeof md);
    OPENSSL_cleanse(md_key, sizeof md_key);
  }
  OPENSSL_cleanse(root_key, sizeof root_key);
  OPENSSL_cleanse(node, sizeof node);
  return fail;
}

static void execute(napi_env env, void *data) {
  (void)env;
  Job *j = data;
  int64_t d = j->size <= MD_DATA_SIZE ? 0 : (int64_t)((j->size - MD_DATA_SIZE + NODE_SIZE - 1) / NODE_SIZE);
  int64_t m = (d + DATA_PER_MHT - 1) / DATA_PER_MHT;
  int64_t total = 1 + m + d;
  size_t bytes = (size_t)total * NODE_SIZE;
  unsigned char *out = calloc(1, bytes);
  pthread_once(&fetched, fetch_algorithms);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (!out || !c || !gcm_cipher || !cmac) j->fail = "out of memory or no AES-GCM/CMAC in OpenSSL";
  else if (EVP_EncryptInit_ex2(c, gcm_cipher, NULL, NULL, NULL) != 1) j->fail = "AES-GCM setup failed";
  else j->fail = encode(j, out, d, m, c);
  EVP_CIPHER_CTX_free(c);
  for (size_t at = 0; !j->fail && at < bytes;) {
    ssize_t n = pwrite(j->fd, out + at, bytes - at, (off_t)(j->offset + (int64_t)at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      j->err = n < 0 ? errno : EIO;
      break;
    }
    at += (size_t)n;
  }
  j->nodes = total;
  free(out); /* ciphertext only: nothing to cleanse */
  OPENSSL_cleanse(j->key, KEY_SIZE);
}

static void complete(napi_env env, napi_status status, void *data) {
  Job *j = data;
  napi_value result;
  if (status != napi_ok || j->fail || j->err) {
    napi_value msg, code, error;
    const char *text = j->fail ? j->fail : status != napi_ok ? "cancelled" : strerror(j->err);
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &error);
    if (j->err) {
      /* The errno name is what wrapIoError reports; strerror text is the message. */
      const char *name = j->err == ENOSPC ? "ENOSPC" : j->err == EBADF ? "EBADF" : j->err == EIO ? "EIO" : j->err == EDQUOT ? "EDQUOT" : j->err == EFBIG ? "EFBIG" : "EIO";
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
      napi_set_named_property(env, error, "code", code);
    }
    napi_reject_deferred(env, j->deferred, error);
  } else {
    napi_create_int64(env, j->nodes, &result);
    napi_resolve_deferred(env, j->deferred, result);
  }
  napi_delete_reference(env, j->plain_ref);
  napi_delete_async_work(env, j->work);
  free(j);
}

/* Queues `execute`/`complete` on the thread pool for `data`; returns the promise they settle. */
static napi_value queue_job(napi_env env, const char *what, napi_async_execute_callback execute, napi_async_complete_callback complete, void *data, napi_deferred *deferred, napi_async_work *work) {
  napi_value promise, name;
  napi_create_promise(env, deferred, &promise);
  napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, data, work);
  napi_queue_async_work(env, *work);
  return promise;
}

static napi_value throw_type(napi_env env, const char *m) {
  napi_throw_type_error(env, NULL, m);
  return NULL;
}

static napi_value encode_js(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 5) return throw_type(env, "encode(key, path, plain, fd, offset)");
  void *key, *path, *plain;
  size_t key_len, path_len, plain_len;
  bool is_buf;
  for (int i = 0; i < 3; i++) {
    napi_is_buffer(env, argv[i], &is_buf);
    if (!is_buf) return throw_type(env, "key, path and plain must be Buffers");
  }
  napi_get_buffer_info(env, argv[0], &key, &key_len);
  napi_get_buffer_info(env, argv[1], &path, &path_len);
  napi_get_buffer_info(env, argv[2], &plain, &plain_len);
  if (key_len != KEY_SIZE) return throw_type(env, "key must be 16 bytes");
  if (path_len > PATH_SIZE - 1 || memchr(path, 0, path_len)) return throw_type(env, "path must be at most 771 bytes, without NUL");
  Job *j = calloc(1, sizeof *j);
  if (!j) return throw_type(env, "out of memory");
  memcpy(j->key, key, KEY_SIZE);
  memcpy(j->path, path, path_len);
  j->path_len = path_len;
  j->plain = plain;
  j->size = plain_len;
  int32_t fd;
  napi_get_value_int32(env, argv[3], &fd);
  j->fd = fd;
  napi_get_value_int64(env, argv[4], &j->offset);
  napi_create_reference(env, argv[2], 1, &j->plain_ref); /* keeps the plaintext alive meanwhile */
  return queue_job(env, "cconv:pf-encode", execute, complete, j, &j->deferred, &j->work);
}

/* A batch of data nodes for the streaming encoder: k nodes, k fresh keys, on a thread-pool thread. */
typedef struct {
  unsigned char *plain, *out, *keys, *tags;
  size_t k;
  napi_ref refs[4];
  const char *fail;
  napi_async_work work;
  napi_deferred deferred;
} NodesJob;

static void nodes_execute(napi_env env, void *data) {
  (void)env;
  NodesJob *j = data;
  pthread_once(&fetched, fetch_algorithms);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (!c || !gcm_cipher || EVP_EncryptInit_ex2(c, gcm_cipher, NULL, NULL, NULL) != 1) j->fail = "AES-GCM setup failed";
  else if (j->k > 0 && RAND_bytes(j->keys, (int)(j->k * KEY_SIZE)) != 1) j->fail = "RAND_bytes failed";
  for (size_t i = 0; i < j->k && !j->fail; i++) {
    if (!gcm(c, j->keys + i * KEY_SIZE, j->plain + i * NODE_SIZE, NODE_SIZE, j->out + i * NODE_SIZE, j->tags + i * MAC_SIZE)) j->fail = "AES-GCM failed";
  }
  EVP_CIPHER_CTX_free(c);
}

static void nodes_complete(napi_env env, napi_status status, void *data) {
  NodesJob *j = data;
  if (status != napi_ok || j->fail) {
    napi_value msg, error;
    napi_create_string_utf8(env, j->fail ? j->fail : "cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &error);
    napi_reject_deferred(env, j->deferred, error);
  } else {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, j->deferred, undefined);
  }
  for (int i = 0; i < 4; i++) napi_delete_reference(env, j->refs[i]);
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value gcm_nodes_js(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  void *buf[4];
  size_t len[4];
  bool is_buf;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 4) return throw_type(env, "gcmNodes(plain, out, keys, tags)");
  for (int i = 0; i < 4; i++) {
    napi_is_buffer(env, argv[i], &is_buf);
    if (!is_buf) return throw_type(env, "gcmNodes takes four Buffers");
    napi_get_buffer_info(env, argv[i], &buf[i], &len[i]);
  }
  size_t k = len[0] / NODE_SIZE;
  if (len[0] % NODE_SIZE || len[1] != len[0] || len[2] != k * KEY_SIZE || len[3] != k * MAC_SIZE) return throw_type(env, "gcmNodes: sizes do not match");
  NodesJob *j = calloc(1, sizeof *j);
  if (!j) return throw_type(env, "out of memory");
  j->plain = buf[0];
  j->out = buf[1];
  j->keys = buf[2];
  j->tags = buf[3];
  j->k = k;
  for (int i = 0; i < 4; i++) napi_create_reference(env, argv[i], 1, &j->refs[i]); /* alive until done */
  return queue_job(env, "cconv:pf-nodes", nodes_execute, nodes_complete, j, &j->deferred, &j->work);
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "encode", NAPI_AUTO_LENGTH, encode_js, NULL, &fn);
  napi_set_named_property(env, exports, "encode", fn);
  napi_create_function(env, "gcmNodes", NAPI_AUTO_LENGTH, gcm_nodes_js, NULL, &fn);
  napi_set_named_property(env, exports, "gcmNodes", fn);
  return exports;
}
