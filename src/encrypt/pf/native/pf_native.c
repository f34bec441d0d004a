/*
 * cconv's native protected-file encoder: the same format as src/encrypt/pf/encoder.ts (Gramine
 * protected files 2.0; layout in format.ts), run on libuv thread-pool threads, writing with pwrite
 * at offsets of an open file.
 *
 * Why native: every 4 KiB node has its own AES-128-GCM key. Node's crypto API builds a new cipher
 * context per key (about 4 us of setup per node, ~550 MB/s per core before any format work);
 * OpenSSL re-keys one EVP context in well under a microsecond (~3.5 GB/s per core here). And a
 * whole batch of small files costs one trip to the thread pool instead of one per file (the trip,
 * its promise and the JS around it cost ~20 us per file, more than encrypting a 30 KB file).
 * The OpenSSL used is Node's own (its symbols are exported by the node binary; the headers come
 * with Node), so there is nothing to link and no second OpenSSL in the process.
 *
 * JS API (see native.ts):
 *   encodeFiles(key: Buffer(16), fd, paths: Buffer[], plains: Buffer[], offsets: Float64Array,
 *               wipe: boolean) -> Promise<void>
 *     encodes whole protected files, file i bound to paths[i] (UTF-8, normalised, no NUL, <= 771
 *     bytes) from plains[i], written at offsets[i] of fd; with `wipe`, each plaintext is cleansed
 *     once encrypted. On failure the error has `index`, the file that failed.
 *   sealGroup(plain: Buffer (k x 4096), mht: Buffer(4096), fd, offset) -> Promise<void>
 *     the streaming encoder's data nodes: k <= 96 nodes encrypted in place, each under a fresh
 *     key, key and tag stored in entries 0..k-1 of the MHT node plaintext `mht`; with fd >= 0 the
 *     ciphertext is written at `offset` of fd.
 * The caller must not touch the buffers until the promise settles.
 *
 * Node keys and metadata nonces come from RAND_bytes (one call per batch); every key encrypts
 * exactly one node and every metadata key comes from a fresh nonce, so the all-zero IV is never
 * reused with a key. Key material and intermediate plaintext (MHT nodes, metadata) are cleansed.
 */
#define NAPI_VERSION 8
#include <errno.h>
#include <limits.h>
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

/* Fetched once (OpenSSL 3 algorithm fetches are not free), shared by every thread; contexts are per job. */
static EVP_CIPHER *gcm_cipher;
static EVP_MAC *cmac;
static pthread_once_t fetched = PTHREAD_ONCE_INIT;
static void fetch_algorithms(void) {
  gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
  cmac = EVP_MAC_fetch(NULL, "CMAC", NULL);
}

/* The contexts of one job: AES-128-GCM (re-keyed per node) and, for whole files, CMAC under the wrap key. */
typedef struct {
  EVP_CIPHER_CTX *gcm;
  EVP_MAC_CTX *cmac;
} Crypto;

static const char *crypto_open(Crypto *c, const unsigned char *wrap) {
  pthread_once(&fetched, fetch_algorithms);
  c->gcm = EVP_CIPHER_CTX_new();
  c->cmac = NULL;
  if (!c->gcm || !gcm_cipher || EVP_EncryptInit_ex2(c->gcm, gcm_cipher, NULL, NULL, NULL) != 1) return "AES-GCM setup failed";
  if (wrap) {
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, "AES-128-CBC", 0), OSSL_PARAM_construct_end()};
    c->cmac = cmac ? EVP_MAC_CTX_new(cmac) : NULL;
    if (!c->cmac || EVP_MAC_init(c->cmac, wrap, KEY_SIZE, params) != 1) return "AES-CMAC setup failed";
  }
  return NULL;
}

static void crypto_close(Crypto *c) {
  EVP_CIPHER_CTX_free(c->gcm); /* both free (and cleanse) their key schedules */
  EVP_MAC_CTX_free(c->cmac);
}

/*
 * AES-128-GCM of `in` under `key` (used once) with the all-zero IV, on a context set up for
 * AES-128-GCM once: only the key and IV are set here, which is the cheap re-key path. `out` may be `in`.
 */
static int gcm(EVP_CIPHER_CTX *c, const unsigned char *key, const unsigned char *in, int len, unsigned char *out, unsigned char *tag) {
  int n = 0, f = 0;
  if (EVP_EncryptInit_ex2(c, NULL, key, ZERO_IV, NULL) != 1) return 0;
  if (EVP_EncryptUpdate(c, out, &n, in, len) != 1) return 0;
  if (EVP_EncryptFinal_ex(c, out + n, &f) != 1) return 0;
  return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, MAC_SIZE, tag) == 1;
}

/* metadata key = AES-128-CMAC(wrap key, le32 1 | label padded to 64 | nonce | le32 128), on a context keyed once. */
static int metadata_key(EVP_MAC_CTX *m, const unsigned char *nonce, unsigned char *out) {
  unsigned char input[4 + 64 + NONCE_SIZE + 4] = {0};
  input[0] = 1;
  memcpy(input + 4, KDF_LABEL, sizeof KDF_LABEL - 1);
  memcpy(input + 68, nonce, NONCE_SIZE);
  input[100] = 0x80;
  size_t outl = 0;
  /* Init without a key restarts the MAC under the key it already holds. */
  return EVP_MAC_init(m, NULL, 0, NULL) == 1 && EVP_MAC_update(m, input, sizeof input) == 1 && EVP_MAC_final(m, out, &outl, KEY_SIZE) == 1 &&
         outl == KEY_SIZE;
}

static int64_t data_nodes(size_t size) { return size <= MD_DATA_SIZE ? 0 : (int64_t)((size - MD_DATA_SIZE + NODE_SIZE - 1) / NODE_SIZE); }
static int64_t mht_nodes(int64_t data) { return (data + DATA_PER_MHT - 1) / DATA_PER_MHT; }
static int64_t data_physical(int64_t i) { return i + 2 + i / DATA_PER_MHT; }
static int64_t mht_physical(int64_t j) { return 1 + j * (DATA_PER_MHT + 1); }

/* Writes all of buf at offset; returns 0 or an errno. */
static int write_all(int fd, const unsigned char *buf, size_t len, int64_t offset) {
  for (size_t at = 0; at < len;) {
    ssize_t n = pwrite(fd, buf + at, len - at, (off_t)(offset + (int64_t)at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EIO;
    at += (size_t)n;
  }
  return 0;
}

/* One whole file of a batch. */
typedef struct {
  const unsigned char *path;
  size_t path_len;
  unsigned char *plain;
  size_t size;
  int64_t offset;
} File;

/*
 * Encodes one whole file into `out` ((1 + mht + data) * 4096 bytes; every byte is written), with
 * `keys` (data + mht fresh keys, consumed and cleansed) and `nonce` (fresh), using `tree` (mht
 * nodes of scratch) for the MHT plaintexts. Returns NULL or a failure.
 */
static const char *encode_file(Crypto *c, const File *f, unsigned char *keys, const unsigned char *nonce, unsigned char *out, unsigned char *tree) {
  int64_t data = data_nodes(f->size), mht = mht_nodes(data);
  unsigned char tag[MAC_SIZE], root_key[KEY_SIZE] = {0}, root_mac[MAC_SIZE] = {0}, node[NODE_SIZE];
  const char *fail = NULL;
  memset(tree, 0, (size_t)mht * NODE_SIZE);
  for (int64_t i = 0; i < data && !fail; i++) {
    size_t at = MD_DATA_SIZE + (size_t)i * NODE_SIZE;
    size_t n = f->size - at < NODE_SIZE ? f->size - at : NODE_SIZE;
    const unsigned char *src = f->plain + at;
    if (n < NODE_SIZE) { /* the last node, zero-padded as Gramine does */
      memset(node, 0, NODE_SIZE);
      memcpy(node, src, n);
      src = node;
    }
    unsigned char *key = keys + i * KEY_SIZE;
    if (!gcm(c->gcm, key, src, NODE_SIZE, out + data_physical(i) * NODE_SIZE, tag)) fail = "AES-GCM failed";
    else {
      unsigned char *e = tree + (i / DATA_PER_MHT) * NODE_SIZE + (i % DATA_PER_MHT) * ENTRY_SIZE;
      memcpy(e, key, KEY_SIZE);
      memcpy(e + KEY_SIZE, tag, MAC_SIZE);
    }
  }
  /* MHT nodes, children (higher indices) before parents. */
  for (int64_t m = mht - 1; m >= 0 && !fail; m--) {
    unsigned char *key = keys + (data + m) * KEY_SIZE;
    if (!gcm(c->gcm, key, tree + m * NODE_SIZE, NODE_SIZE, out + mht_physical(m) * NODE_SIZE, tag)) fail = "AES-GCM failed";
    else if (m == 0) {
      memcpy(root_key, key, KEY_SIZE);
      memcpy(root_mac, tag, MAC_SIZE);
    } else {
      int64_t parent = (m - 1) / CHILDREN_PER_MHT, entry = DATA_PER_MHT + (m - 1) % CHILDREN_PER_MHT;
      unsigned char *e = tree + parent * NODE_SIZE + entry * ENTRY_SIZE;
      memcpy(e, key, KEY_SIZE);
      memcpy(e + KEY_SIZE, tag, MAC_SIZE);
    }
  }
  OPENSSL_cleanse(tree, (size_t)mht * NODE_SIZE);
  OPENSSL_cleanse(keys, (size_t)(data + mht) * KEY_SIZE);
  if (!fail) {
    unsigned char md[MD_ENCRYPTED_SIZE] = {0}, md_key[KEY_SIZE];
    uint64_t size = f->size;
    memcpy(md, f->path, f->path_len); /* NUL-terminated: the rest of the field is zero */
    for (int b = 0; b < 8; b++) md[PATH_SIZE + b] = (unsigned char)(size >> (8 * b));
    memcpy(md + PATH_SIZE + 8, root_key, KEY_SIZE);
    memcpy(md + PATH_SIZE + 8 + KEY_SIZE, root_mac, MAC_SIZE);
    memcpy(md + PATH_SIZE + 8 + KEY_SIZE + MAC_SIZE, f->plain, f->size < MD_DATA_SIZE ? f->size : MD_DATA_SIZE);
    if (!metadata_key(c->cmac, nonce, md_key)) fail = "AES-CMAC failed";
    else if (!gcm(c->gcm, md_key, md, MD_ENCRYPTED_SIZE, out + HEADER_SIZE, tag)) fail = "AES-GCM failed";
    else {
      static const unsigned char file_id[8] = {'G', 'R', 'A', 'F', 'S', '_', 'P', 'F'}; /* 0x46505f5346415247 LE */
      memcpy(out, file_id, 8);
      out[8] = 2; /* major */
      out[9] = 0; /* minor */
      memcpy(out + 10, nonce, NONCE_SIZE);
      memcpy(out + 42, tag, MAC_SIZE);
      out[58] = 0; /* flags */
      memset(out + HEADER_SIZE + MD_ENCRYPTED_SIZE, 0, NODE_SIZE - HEADER_SIZE - MD_ENCRYPTED_SIZE);
    }
    OPENSSL_cleanse(md, sizeof md);
    OPENSSL_cleanse(md_key, sizeof md_key);
  }
  OPENSSL_cleanse(root_key, sizeof root_key);
  OPENSSL_cleanse(node, sizeof node);
  return fail;
}

/* Shared by both job kinds. */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref refs[3]; /* keep the JS inputs alive (NULL when unused) */
  const char *fail; /* a crypto failure, or NULL */
  int err;          /* errno of a failed write, or 0 */
  int64_t index;    /* the file that failed (encodeFiles), or -1 */
} Job;

typedef struct {
  Job job;
  unsigned char key[KEY_SIZE];
  int fd;
  int wipe;
  size_t n;
  File files[];
} FilesJob;

static void files_execute(napi_env env, void *data) {
  (void)env;
  FilesJob *j = data;
  Crypto c;
  size_t keys_len = 0, out_max = 0, tree_max = 0;
  for (size_t i = 0; i < j->n; i++) {
    int64_t d = data_nodes(j->files[i].size), m = mht_nodes(d);
    keys_len += (size_t)(d + m) * KEY_SIZE + NONCE_SIZE;
    if ((size_t)(1 + m + d) * NODE_SIZE > out_max) out_max = (size_t)(1 + m + d) * NODE_SIZE;
    if ((size_t)m * NODE_SIZE > tree_max) tree_max = (size_t)m * NODE_SIZE;
  }
  /* One CSPRNG draw for the whole batch: each file's node keys, then its nonce. */
  unsigned char *keys = malloc(keys_len), *out = malloc(out_max), *tree = malloc(tree_max ? tree_max : 1);
  j->job.fail = crypto_open(&c, j->key);
  if (!j->job.fail && keys_len > INT_MAX) j->job.fail = "batch too large"; /* over 500 GiB of plaintext */
  if (!j->job.fail && (!keys || !out || !tree)) j->job.fail = "out of memory";
  if (!j->job.fail && RAND_bytes(keys, (int)keys_len) != 1) j->job.fail = "RAND_bytes failed";
  unsigned char *k = keys;
  for (size_t i = 0; i < j->n && !j->job.fail && !j->job.err; i++) {
    const File *f = &j->files[i];
    int64_t d = data_nodes(f->size), m = mht_nodes(d);
    j->job.index = (int64_t)i;
    j->job.fail = encode_file(&c, f, k, k + (d + m) * KEY_SIZE, out, tree);
    k += (size_t)(d + m) * KEY_SIZE + NONCE_SIZE;
    if (j->wipe) OPENSSL_cleanse(f->plain, f->size);
    if (!j->job.fail) j->job.err = write_all(j->fd, out, (size_t)(1 + m + d) * NODE_SIZE, f->offset);
  }
  if (!j->job.fail && !j->job.err) j->job.index = -1;
  if (j->wipe) /* also the files not reached after a failure */
    for (size_t i = 0; i < j->n; i++) OPENSSL_cleanse(j->files[i].plain, j->files[i].size);
  crypto_close(&c);
  if (keys) OPENSSL_cleanse(keys, keys_len);
  free(keys);
  free(out); /* ciphertext only */
  free(tree); /* cleansed per file */
  OPENSSL_cleanse(j->key, KEY_SIZE);
}

typedef struct {
  Job job;
  unsigned char *plain; /* k nodes, encrypted in place */
  unsigned char *mht;
  size_t k;
  int fd;
  int64_t offset;
} GroupJob;

static void group_execute(napi_env env, void *data) {
  (void)env;
  GroupJob *j = data;
  Crypto c;
  unsigned char keys[DATA_PER_MHT * KEY_SIZE], tag[MAC_SIZE];
  j->job.fail = crypto_open(&c, NULL);
  if (!j->job.fail && RAND_bytes(keys, (int)(j->k * KEY_SIZE)) != 1) j->job.fail = "RAND_bytes failed";
  for (size_t i = 0; i < j->k && !j->job.fail; i++) {
    unsigned char *node = j->plain + i * NODE_SIZE;
    if (!gcm(c.gcm, keys + i * KEY_SIZE, node, NODE_SIZE, node, tag)) j->job.fail = "AES-GCM failed";
    memcpy(j->mht + i * ENTRY_SIZE, keys + i * KEY_SIZE, KEY_SIZE);
    memcpy(j->mht + i * ENTRY_SIZE + KEY_SIZE, tag, MAC_SIZE);
  }
  crypto_close(&c);
  OPENSSL_cleanse(keys, sizeof keys);
  if (j->job.fail) OPENSSL_cleanse(j->plain, j->k * NODE_SIZE); /* may hold plaintext still */
  else if (j->fd >= 0) j->job.err = write_all(j->fd, j->plain, j->k * NODE_SIZE, j->offset);
}

static const char *errno_name(int e) {
  switch (e) {
    case ENOSPC: return "ENOSPC";
    case EBADF: return "EBADF";
    case EDQUOT: return "EDQUOT";
    case EFBIG: return "EFBIG";
    case EINVAL: return "EINVAL";
    default: return "EIO";
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  Job *j = data;
  if (status != napi_ok || j->fail || j->err) {
    napi_value msg, value, error;
    const char *text = j->fail ? j->fail : status != napi_ok ? "cancelled" : strerror(j->err);
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &error);
    if (j->err) { /* the errno name is what wrapIoError reports; strerror text is the message */
      napi_create_string_utf8(env, errno_name(j->err), NAPI_AUTO_LENGTH, &value);
      napi_set_named_property(env, error, "code", value);
    }
    if (j->index >= 0) {
      napi_create_int64(env, j->index, &value);
      napi_set_named_property(env, error, "index", value);
    }
    napi_reject_deferred(env, j->deferred, error);
  } else {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, j->deferred, undefined);
  }
  for (int i = 0; i < 3; i++)
    if (j->refs[i]) napi_delete_reference(env, j->refs[i]);
  napi_delete_async_work(env, j->work);
  free(j);
}

/* Queues `execute` on the thread pool for job `j` (which `complete` frees); returns its promise. */
static napi_value queue_job(napi_env env, const char *what, napi_async_execute_callback execute, Job *j) {
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

static napi_value throw_type(napi_env env, const char *m) {
  napi_throw_type_error(env, NULL, m);
  return NULL;
}

static int buffer_arg(napi_env env, napi_value v, void **data, size_t *len) {
  bool is_buf = false;
  napi_is_buffer(env, v, &is_buf);
  return is_buf && napi_get_buffer_info(env, v, data, len) == napi_ok;
}

static napi_value encode_files_js(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 6) return throw_type(env, "encodeFiles(key, fd, paths, plains, offsets, wipe)");
  void *key, *offsets_data;
  size_t key_len, offsets_len = 0;
  uint32_t n = 0, m = 0;
  int32_t fd;
  bool wipe, paths_array = false, plains_array = false;
  napi_typedarray_type type;
  if (!buffer_arg(env, argv[0], &key, &key_len) || key_len != KEY_SIZE) return throw_type(env, "key must be a 16-byte Buffer");
  if (napi_get_value_int32(env, argv[1], &fd) != napi_ok) return throw_type(env, "fd must be a number");
  napi_is_array(env, argv[2], &paths_array);
  napi_is_array(env, argv[3], &plains_array);
  if (paths_array) napi_get_array_length(env, argv[2], &n);
  if (plains_array) napi_get_array_length(env, argv[3], &m);
  if (!paths_array || !plains_array || n != m || n == 0) return throw_type(env, "paths and plains must be arrays of the same (non-zero) length");
  if (napi_get_typedarray_info(env, argv[4], &type, &offsets_len, &offsets_data, NULL, NULL) != napi_ok || type != napi_float64_array || offsets_len != n)
    return throw_type(env, "offsets must be a Float64Array with one offset per file");
  if (napi_get_value_bool(env, argv[5], &wipe) != napi_ok) return throw_type(env, "wipe must be a boolean");
  FilesJob *j = calloc(1, sizeof *j + n * sizeof(File));
  if (!j) return throw_type(env, "out of memory");
  for (uint32_t i = 0; i < n; i++) {
    napi_value p, q;
    void *path, *plain;
    size_t path_len, plain_len;
    napi_get_element(env, argv[2], i, &p);
    napi_get_element(env, argv[3], i, &q);
    double at = ((const double *)offsets_data)[i];
    if (!buffer_arg(env, p, &path, &path_len) || !buffer_arg(env, q, &plain, &plain_len) || path_len > PATH_SIZE - 1 || memchr(path, 0, path_len) ||
        !(at >= 0 && at <= 9007199254740991.0 && at == (double)(int64_t)at)) {
      free(j);
      return throw_type(env, "each file needs a path Buffer (<= 771 bytes, no NUL), a plaintext Buffer and an integer offset");
    }
    j->files[i] = (File){path, path_len, plain, plain_len, (int64_t)at};
  }
  memcpy(j->key, key, KEY_SIZE);
  j->fd = fd;
  j->wipe = wipe;
  j->n = n;
  j->job.index = -1;
  /* The arrays hold the path and plaintext Buffers: referencing them keeps those alive. */
  napi_create_reference(env, argv[2], 1, &j->job.refs[0]);
  napi_create_reference(env, argv[3], 1, &j->job.refs[1]);
  return queue_job(env, "cconv:pf-files", files_execute, &j->job);
}

static napi_value seal_group_js(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  void *plain, *mht;
  size_t plain_len, mht_len;
  int32_t fd;
  int64_t offset;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 4) return throw_type(env, "sealGroup(plain, mht, fd, offset)");
  if (!buffer_arg(env, argv[0], &plain, &plain_len) || !buffer_arg(env, argv[1], &mht, &mht_len)) return throw_type(env, "plain and mht must be Buffers");
  if (plain_len == 0 || plain_len % NODE_SIZE || plain_len / NODE_SIZE > DATA_PER_MHT || mht_len != NODE_SIZE)
    return throw_type(env, "sealGroup: plain must be 1 to 96 whole nodes and mht one node");
  if (napi_get_value_int32(env, argv[2], &fd) != napi_ok || napi_get_value_int64(env, argv[3], &offset) != napi_ok || offset < 0)
    return throw_type(env, "sealGroup: fd and offset must be numbers");
  GroupJob *j = calloc(1, sizeof *j);
  if (!j) return throw_type(env, "out of memory");
  j->plain = plain;
  j->mht = mht;
  j->k = plain_len / NODE_SIZE;
  j->fd = fd;
  j->offset = offset;
  j->job.index = -1;
  napi_create_reference(env, argv[0], 1, &j->job.refs[0]);
  napi_create_reference(env, argv[1], 1, &j->job.refs[1]);
  return queue_job(env, "cconv:pf-group", group_execute, &j->job);
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "encodeFiles", NAPI_AUTO_LENGTH, encode_files_js, NULL, &fn);
  napi_set_named_property(env, exports, "encodeFiles", fn);
  napi_create_function(env, "sealGroup", NAPI_AUTO_LENGTH, seal_group_js, NULL, &fn);
  napi_set_named_property(env, exports, "sealGroup", fn);
  return exports;
}
