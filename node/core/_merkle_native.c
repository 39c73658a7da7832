/* Native Merkle builder for node/merkle.py: the same frozen rules, in C.
 *
 * keccak256 here is the original Keccak (padding 0x01, as Ethereum uses), not SHA3-256 (0x06).
 * build(data) takes the n document hashes concatenated (n * 32 bytes) and returns
 * (nodes, position): the heap array of 2n - 1 nodes as a list of 32-byte bytes objects (root at
 * 0, leaf of rank r in sorted order at 2n - 2 - r) and, for each input index, its heap index.
 * all_proofs(nodes, position) returns every sibling path, in input order, as list[list[bytes]]
 * sharing the node objects. node/merkle.py keeps the pure-Python code as the reference; the
 * tests check both give identical results.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE 1 /* qsort_r (pyconfig.h defines it the same way) */
#include <Python.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "little-endian only (node/merkle.py falls back to pure Python elsewhere)"
#endif

#define ROL(v, r) (((v) << (r)) | ((v) >> (64 - (r))))

static const uint64_t RC[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* The 24 rounds of Keccak-f[1600] on the 25 lanes held in locals a00..a44 (lane (x, y) is
 * a<x><y>), with scratch locals b00..b44, c0..c4, d0..d4. One text for both users below, so the
 * known-answer tests of keccak256() (any length, through keccak256_bytes) check the very rounds
 * the tree builder runs. */
#define KECCAK_F1600_ROUNDS()\
    for (int round = 0; round < 24; round++) { \
        c0 = a00 ^ a01 ^ a02 ^ a03 ^ a04;      \
        c1 = a10 ^ a11 ^ a12 ^ a13 ^ a14;      \
        c2 = a20 ^ a21 ^ a22 ^ a23 ^ a24;      \
        c3 = a30 ^ a31 ^ a32 ^ a33 ^ a34;      \
        c4 = a40 ^ a41 ^ a42 ^ a43 ^ a44;      \
        d0 = c4 ^ ROL(c1, 1);                  \
        d1 = c0 ^ ROL(c2, 1);                  \
        d2 = c1 ^ ROL(c3, 1);                  \
        d3 = c2 ^ ROL(c4, 1);                  \
        d4 = c3 ^ ROL(c0, 1);                  \
        b00 = a00 ^ d0;                        \
        b13 = ROL(a01 ^ d0, 36);               \
        b21 = ROL(a02 ^ d0, 3);                \
        b34 = ROL(a03 ^ d0, 41);               \
        b42 = ROL(a04 ^ d0, 18);               \
        b02 = ROL(a10 ^ d1, 1);                \
        b10 = ROL(a11 ^ d1, 44);               \
        b23 = ROL(a12 ^ d1, 10);               \
        b31 = ROL(a13 ^ d1, 45);               \
        b44 = ROL(a14 ^ d1, 2);                \
        b04 = ROL(a20 ^ d2, 62);               \
        b12 = ROL(a21 ^ d2, 6);                \
        b20 = ROL(a22 ^ d2, 43);               \
        b33 = ROL(a23 ^ d2, 15);               \
        b41 = ROL(a24 ^ d2, 61);               \
        b01 = ROL(a30 ^ d3, 28);               \
        b14 = ROL(a31 ^ d3, 55);               \
        b22 = ROL(a32 ^ d3, 25);               \
        b30 = ROL(a33 ^ d3, 21);               \
        b43 = ROL(a34 ^ d3, 56);               \
        b03 = ROL(a40 ^ d4, 27);               \
        b11 = ROL(a41 ^ d4, 20);               \
        b24 = ROL(a42 ^ d4, 39);               \
        b32 = ROL(a43 ^ d4, 8);                \
        b40 = ROL(a44 ^ d4, 14);               \
        a00 = b00 ^ (~b10 & b20);              \
        a01 = b01 ^ (~b11 & b21);              \
        a02 = b02 ^ (~b12 & b22);              \
        a03 = b03 ^ (~b13 & b23);              \
        a04 = b04 ^ (~b14 & b24);              \
        a10 = b10 ^ (~b20 & b30);              \
        a11 = b11 ^ (~b21 & b31);              \
        a12 = b12 ^ (~b22 & b32);              \
        a13 = b13 ^ (~b23 & b33);              \
        a14 = b14 ^ (~b24 & b34);              \
        a20 = b20 ^ (~b30 & b40);              \
        a21 = b21 ^ (~b31 & b41);              \
        a22 = b22 ^ (~b32 & b42);              \
        a23 = b23 ^ (~b33 & b43);              \
        a24 = b24 ^ (~b34 & b44);              \
        a30 = b30 ^ (~b40 & b00);              \
        a31 = b31 ^ (~b41 & b01);              \
        a32 = b32 ^ (~b42 & b02);              \
        a33 = b33 ^ (~b43 & b03);              \
        a34 = b34 ^ (~b44 & b04);              \
        a40 = b40 ^ (~b00 & b10);              \
        a41 = b41 ^ (~b01 & b11);              \
        a42 = b42 ^ (~b02 & b12);              \
        a43 = b43 ^ (~b03 & b13);              \
        a44 = b44 ^ (~b04 & b14);              \
        a00 ^= RC[round];                      \
    }

/* keccak256 of one message of nw 64-bit little-endian words (nw = 4 or 8: 32 or 64 bytes, one
 * block of the 136-byte rate). Lane (x, y) of the state is a<x><y>, word x + 5y. */
static inline __attribute__((always_inline)) void
keccak256_words(const uint64_t *w, int nw, uint64_t *out)
{
    uint64_t a00 = 0, a10 = 0, a20 = 0, a30 = 0, a40 = 0, a01 = 0, a11 = 0, a21 = 0, a31 = 0,
             a41 = 0, a02 = 0, a12 = 0, a22 = 0, a32 = 0, a42 = 0, a03 = 0, a13 = 0, a23 = 0,
             a33 = 0, a43 = 0, a04 = 0, a14 = 0, a24 = 0, a34 = 0, a44 = 0;
    uint64_t b00, b10, b20, b30, b40, b01, b11, b21, b31, b41, b02, b12, b22, b32, b42, b03, b13,
        b23, b33, b43, b04, b14, b24, b34, b44;
    uint64_t c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;
    a00 = w[0];
    a10 = w[1];
    a20 = w[2];
    a30 = w[3];
    if (nw == 4) {
        a40 = 0x01; /* Keccak padding byte right after the 32-byte message */
    } else {
        a40 = w[4];
        a01 = w[5];
        a11 = w[6];
        a21 = w[7];
        a31 = 0x01; /* ... after the 64-byte message */
    }
    a13 = 0x8000000000000000ULL; /* last byte of the 136-byte block (word 16) */
    KECCAK_F1600_ROUNDS();
    out[0] = a00;
    out[1] = a10;
    out[2] = a20;
    out[3] = a30;
}

/* keccak256 of any message: the sponge with the 136-byte rate and Keccak padding (0x01 ... 0x80)
 * around the same rounds. Used only by keccak256() for other lengths than 32 and 64 (tests). */
static void keccak256_bytes(const unsigned char *msg, size_t len, unsigned char *out)
{
    uint64_t s[25] = {0};
    unsigned char block[136];
    size_t off = 0;
    int last = 0;
    while (!last) {
        size_t take = len - off < 136 ? len - off : 136;
        memset(block, 0, sizeof block);
        memcpy(block, msg + off, take);
        off += take;
        if (take < 136) { /* the final block: pad (a full last block is followed by a padding block) */
            block[take] ^= 0x01;
            block[135] ^= 0x80;
            last = 1;
        }
        for (int i = 0; i < 17; i++) {
            uint64_t lane;
            memcpy(&lane, block + 8 * i, 8);
            s[i] ^= lane;
        }
        {
            uint64_t a00 = s[0], a10 = s[1], a20 = s[2], a30 = s[3], a40 = s[4], a01 = s[5],
                     a11 = s[6], a21 = s[7], a31 = s[8], a41 = s[9], a02 = s[10], a12 = s[11],
                     a22 = s[12], a32 = s[13], a42 = s[14], a03 = s[15], a13 = s[16], a23 = s[17],
                     a33 = s[18], a43 = s[19], a04 = s[20], a14 = s[21], a24 = s[22], a34 = s[23],
                     a44 = s[24];
            uint64_t b00, b10, b20, b30, b40, b01, b11, b21, b31, b41, b02, b12, b22, b32, b42,
                b03, b13, b23, b33, b43, b04, b14, b24, b34, b44;
            uint64_t c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;
            KECCAK_F1600_ROUNDS();
            s[0] = a00, s[1] = a10, s[2] = a20, s[3] = a30, s[4] = a40;
            s[5] = a01, s[6] = a11, s[7] = a21, s[8] = a31, s[9] = a41;
            s[10] = a02, s[11] = a12, s[12] = a22, s[13] = a32, s[14] = a42;
            s[15] = a03, s[16] = a13, s[17] = a23, s[18] = a33, s[19] = a43;
            s[20] = a04, s[21] = a14, s[22] = a24, s[23] = a34, s[24] = a44;
        }
    }
    memcpy(out, s, 32);
}

static inline void leaf_of(const unsigned char *doc, uint64_t *out)
{
    uint64_t w[4], h[4];
    memcpy(w, doc, 32);
    keccak256_words(w, 4, h);
    keccak256_words(h, 4, out);
}

static inline void node_of(const unsigned char *a, const unsigned char *b, unsigned char *out)
{
    uint64_t w[8], h[4];
    if (memcmp(a, b, 32) < 0) {
        memcpy(w, a, 32);
        memcpy(w + 4, b, 32);
    } else {
        memcpy(w, b, 32);
        memcpy(w + 4, a, 32);
    }
    keccak256_words(w, 8, h);
    memcpy(out, h, 32);
}

typedef struct {
    uint64_t key; /* first 8 bytes of the leaf, big-endian: orders like memcmp */
    uint64_t idx; /* input index */
} sort_item;

static inline int item_less(const sort_item *a, const sort_item *b, const unsigned char *leaves)
{
    if (a->key != b->key)
        return a->key < b->key;
    return memcmp(leaves + a->idx * 32, leaves + b->idx * 32, 32) < 0;
}

static int cmp_item(const void *pa, const void *pb, void *leaves)
{
    const sort_item *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return memcmp((unsigned char *)leaves + a->idx * 32, (unsigned char *)leaves + b->idx * 32, 32);
}

/* Sort items by leaf value: counting sort on the top 16 bits, then each bucket on its own
 * (insertion sort when small, qsort_r otherwise, so crafted inputs sharing a prefix stay
 * O(n log n)). Returns -1 when out of memory. */
static int sort_items(sort_item *items, Py_ssize_t n, const unsigned char *leaves)
{
    enum { NB = 1 << 16 };
    Py_ssize_t *start = calloc(NB + 1, sizeof(Py_ssize_t));
    sort_item *tmp = malloc((size_t)n * sizeof(sort_item));
    if (start == NULL || tmp == NULL) {
        free(start);
        free(tmp);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        start[(items[i].key >> 48) + 1]++;
    for (Py_ssize_t b = 0; b < NB; b++)
        start[b + 1] += start[b];
    for (Py_ssize_t i = 0; i < n; i++)
        tmp[start[items[i].key >> 48]++] = items[i];
    /* start[b] is now the end of bucket b */
    Py_ssize_t lo = 0;
    for (Py_ssize_t b = 0; b < NB; b++) {
        Py_ssize_t hi = start[b];
        if (hi - lo > 32) {
            qsort_r(tmp + lo, (size_t)(hi - lo), sizeof(sort_item), cmp_item, (void *)leaves);
        } else {
            for (Py_ssize_t i = lo + 1; i < hi; i++) {
                sort_item x = tmp[i];
                Py_ssize_t j = i;
                while (j > lo && item_less(&x, &tmp[j - 1], leaves)) {
                    tmp[j] = tmp[j - 1];
                    j--;
                }
                tmp[j] = x;
            }
        }
        lo = hi;
    }
    memcpy(items, tmp, (size_t)n * sizeof(sort_item));
    free(start);
    free(tmp);
    return 0;
}

/* Work split over two threads (this machine class has two cores); small jobs stay serial. */
#define PARALLEL_MIN 8192

typedef struct {
    int kind; /* 0: leaves, 1: inner nodes */
    Py_ssize_t lo, hi;
    const unsigned char *docs;
    unsigned char *leaves;
    sort_item *items;
    unsigned char *nodes;
} job;

static void run_job(const job *jb)
{
    if (jb->kind == 0) {
        for (Py_ssize_t i = jb->lo; i < jb->hi; i++) {
            uint64_t h[4];
            leaf_of(jb->docs + i * 32, h);
            memcpy(jb->leaves + i * 32, h, 32);
            jb->items[i].key = __builtin_bswap64(h[0]);
            jb->items[i].idx = (uint64_t)i;
        }
    } else {
        unsigned char *nodes = jb->nodes;
        for (Py_ssize_t j = jb->hi - 1; j >= jb->lo; j--)
            node_of(nodes + (2 * j + 1) * 32, nodes + (2 * j + 2) * 32, nodes + j * 32);
    }
}

static void *thread_main(void *arg)
{
    run_job((const job *)arg);
    return NULL;
}

/* Run jb over [lo, hi): the upper half in a second thread when the range is large. */
static void run_split(job jb)
{
    if (jb.hi - jb.lo >= PARALLEL_MIN) {
        job upper = jb;
        pthread_t th;
        Py_ssize_t mid = jb.lo + (jb.hi - jb.lo) / 2;
        upper.lo = mid;
        jb.hi = mid;
        if (pthread_create(&th, NULL, thread_main, &upper) == 0) {
            run_job(&jb);
            pthread_join(th, NULL);
            return;
        }
        jb.hi = upper.hi; /* no thread: do it all here */
    }
    run_job(&jb);
}

/* The whole build without the GIL. Returns 0, 1 on duplicate leaves, -1 on no memory. */
static int build_nodes(const unsigned char *docs, Py_ssize_t n, unsigned char *nodes,
                       Py_ssize_t *position)
{
    Py_ssize_t total = 2 * n - 1, last = total - 1;
    unsigned char *leaves = malloc((size_t)n * 32);
    sort_item *items = malloc((size_t)n * sizeof(sort_item));
    int rc = 0;
    if (leaves == NULL || items == NULL) {
        rc = -1;
        goto done;
    }
    job jb = {0, 0, n, docs, leaves, items, nodes};
    run_split(jb);
    if (sort_items(items, n, leaves) < 0) {
        rc = -1;
        goto done;
    }
    for (Py_ssize_t r = 1; r < n; r++) {
        if (items[r].key == items[r - 1].key &&
            memcmp(leaves + items[r].idx * 32, leaves + items[r - 1].idx * 32, 32) == 0) {
            rc = 1;
            goto done;
        }
    }
    for (Py_ssize_t r = 0; r < n; r++) {
        Py_ssize_t i = (Py_ssize_t)items[r].idx;
        position[i] = last - r;
        memcpy(nodes + (last - r) * 32, leaves + i * 32, 32);
    }
    /* Inner nodes are 0 .. n - 2. Node j only needs 2j + 1 and 2j + 2, so once every node at or
     * above hi is done, all of [hi / 2, hi) can be computed in any order (and in parallel). */
    for (Py_ssize_t hi = n - 1; hi > 0; hi /= 2) {
        job in = {1, hi / 2, hi, NULL, NULL, NULL, nodes};
        run_split(in);
    }
done:
    free(leaves);
    free(items);
    return rc;
}

static PyObject *py_build(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    PyObject *nodes_list = NULL, *pos_list = NULL, *result = NULL;
    unsigned char *nodes = NULL;
    Py_ssize_t *position = NULL;
    int rc;
    (void)self;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    Py_ssize_t n = view.len / 32;
    if (view.len % 32 != 0) {
        PyErr_SetString(PyExc_ValueError, "a document hash must be exactly 32 bytes");
        goto out;
    }
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "a Merkle tree needs at least one document hash");
        goto out;
    }
    if (n > (PY_SSIZE_T_MAX / 64) - 1) {
        PyErr_NoMemory();
        goto out;
    }
    Py_ssize_t total = 2 * n - 1;
    nodes = malloc((size_t)total * 32);
    position = malloc((size_t)n * sizeof(Py_ssize_t));
    if (nodes == NULL || position == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = build_nodes(view.buf, n, nodes, position);
    Py_END_ALLOW_THREADS
    if (rc == 1) {
        PyErr_SetString(PyExc_ValueError, "duplicate document hash in one batch");
        goto out;
    }
    if (rc < 0) {
        PyErr_NoMemory();
        goto out;
    }
    nodes_list = PyList_New(total);
    if (nodes_list == NULL)
        goto out;
    for (Py_ssize_t k = 0; k < total; k++) {
        PyObject *b = PyBytes_FromStringAndSize((const char *)nodes + k * 32, 32);
        if (b == NULL)
            goto out;
        PyList_SET_ITEM(nodes_list, k, b);
    }
    pos_list = PyList_New(n);
    if (pos_list == NULL)
        goto out;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = PyLong_FromSsize_t(position[i]);
        if (p == NULL)
            goto out;
        PyList_SET_ITEM(pos_list, i, p);
    }
    result = PyTuple_Pack(2, nodes_list, pos_list);
out:
    Py_XDECREF(nodes_list);
    Py_XDECREF(pos_list);
    free(nodes);
    free(position);
    PyBuffer_Release(&view);
    return result;
}

static Py_ssize_t depth_of(Py_ssize_t k)
{
    Py_ssize_t depth = 0;
    for (; k > 0; k = (k - 1) >> 1)
        depth++;
    return depth;
}

/* Fill path (of depth_of(k) items) with the siblings of heap node k, from the leaf up. */
static void fill_path(PyObject *path, PyObject *nodes, Py_ssize_t k)
{
    PyObject **item = ((PyListObject *)path)->ob_item;
    for (; k > 0; k = (k - 1) >> 1) {
        PyObject *sib = PyList_GET_ITEM(nodes, (k & 1) ? k + 1 : k - 1);
        Py_INCREF(sib);
        *item++ = sib;
    }
}

static PyObject *py_all_proofs(PyObject *self, PyObject *args)
{
    PyObject *nodes, *position, *result = NULL;
    Py_ssize_t *pos = NULL, *owner = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!O!:all_proofs", &PyList_Type, &nodes, &PyList_Type, &position))
        return NULL;
    Py_ssize_t total = PyList_GET_SIZE(nodes), n = PyList_GET_SIZE(position);
    if (total % 2 == 0) {
        /* a heap of 2n - 1 nodes has an odd size, and every sibling index is then in range */
        PyErr_SetString(PyExc_ValueError, "the node list must have an odd length");
        return NULL;
    }
    pos = malloc((size_t)(n > 0 ? n : 1) * sizeof(Py_ssize_t));
    /* owner[k] = the input index at heap index k (or -1); building the paths in heap order
     * keeps the memory walks sequential, about twice as fast as input order at 1M leaves */
    owner = malloc((size_t)total * sizeof(Py_ssize_t));
    if (pos == NULL || owner == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t k = 0; k < total; k++)
        owner[k] = -1;
    int heap_order = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t k = PyLong_AsSsize_t(PyList_GET_ITEM(position, i));
        if (k == -1 && PyErr_Occurred())
            goto fail;
        if (k < 0 || k >= total) {
            PyErr_SetString(PyExc_IndexError, "node position out of range");
            goto fail;
        }
        if (owner[k] != -1)
            heap_order = 0; /* two inputs at one node: cannot happen in a built tree */
        owner[k] = i;
        pos[i] = k;
    }
    /* Proof lists holding only bytes cannot be part of a reference cycle, so they are left out
     * of the cyclic GC (as CPython does for such tuples): otherwise the next collection after
     * this call walks all n lists and their ~n log n items, which costs more than building them.
     * (A caller who later puts a list into one of them only loses cycle collection of that.) */
    int untrack = 1;
    for (Py_ssize_t k = 0; k < total && untrack; k++)
        untrack = PyBytes_CheckExact(PyList_GET_ITEM(nodes, k));
    /* The lists are allocated in input order (the order they are freed in, which matters as
     * much), then filled, in heap order when each node has one owner. */
    result = PyList_New(n);
    if (result == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *path = PyList_New(depth_of(pos[i]));
        if (path == NULL)
            goto fail;
        if (untrack)
            PyObject_GC_UnTrack(path);
        PyList_SET_ITEM(result, i, path);
    }
    /* allocating may have run a collection and so arbitrary code: the node list must be as
     * checked; from here on nothing can run Python code */
    if (PyList_GET_SIZE(nodes) != total) {
        PyErr_SetString(PyExc_RuntimeError, "the node list changed during all_proofs");
        goto fail;
    }
    if (heap_order) {
        for (Py_ssize_t k = total - 1; k > 0; k--)
            if (owner[k] >= 0)
                fill_path(PyList_GET_ITEM(result, owner[k]), nodes, k);
    } else {
        for (Py_ssize_t i = 0; i < n; i++)
            fill_path(PyList_GET_ITEM(result, i), nodes, pos[i]);
    }
    free(pos);
    free(owner);
    return result;
fail:
    free(pos);
    free(owner);
    Py_XDECREF(result);
    return NULL;
}

static PyObject *py_keccak256(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    uint64_t w[8], h[4];
    (void)self;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (view.len != 32 && view.len != 64) {
        unsigned char digest[32];
        keccak256_bytes((const unsigned char *)view.buf, (size_t)view.len, digest);
        PyBuffer_Release(&view);
        return PyBytes_FromStringAndSize((const char *)digest, 32);
    }
    memcpy(w, view.buf, (size_t)view.len);
    if (view.len == 32)
        keccak256_words(w, 4, h);
    else
        keccak256_words(w, 8, h);
    PyBuffer_Release(&view);
    return PyBytes_FromStringAndSize((const char *)h, 32);
}

static PyMethodDef methods[] = {
    {"build", py_build, METH_O, "build(data) -> (nodes, position); data = n concatenated 32-byte document hashes."},
    {"all_proofs", py_all_proofs, METH_VARARGS, "all_proofs(nodes, position) -> list of sibling paths in input order."},
    {"keccak256", py_keccak256, METH_O, "keccak256 of a message (32 and 64 bytes, the sizes the tree hashes, take its fast path)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_merkle_native", "Native Merkle builder (see node/merkle.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__merkle_native(void)
{
    return PyModule_Create(&module);
}
