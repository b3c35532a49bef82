/*
 * The JNI boundary: the Java records WeightSlice, ActivationBatch and OutputBlock are read field by
 * field (ids resolved once, at load) into the structs of qsparse_kernels.h, every size is checked
 * against its buffer in 64-bit arithmetic, and the chosen level's kernel runs. A wrong argument from
 * Java is an IllegalArgumentException here, never a read or write outside a buffer.
 */
#include "qsparse_kernels.h"

#include <jni.h>
#include <stdio.h>

static struct {
    jfieldID layout, mapped, heap, stride, rows, cols, row_scales, o0, len;
} weight_slice;
static struct {
    jfieldID values, count, stride, token_scales, token_sums, index, counts;
} activation_batch;
static struct {
    jfieldID values, stride, scratch, sums;
} output_block;
static jmethodID enum_ordinal, buffer_is_read_only;
static int runnable[QS_LEVELS];

static jfieldID field(JNIEnv *env, jclass cls, const char *name, const char *signature, int *ok) {
    jfieldID id = cls == NULL ? NULL : (*env)->GetFieldID(env, cls, name, signature);
    if (id == NULL) {
        *ok = 0;
    }
    return id;
}

/* Resolves the records' fields once: a record that changed shape fails the load, naming the field. */
JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
    JNIEnv *env;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK) {
        return JNI_ERR;
    }
    int ok = 1;
    const char *buffer = "Ljava/nio/ByteBuffer;";
    jclass w = (*env)->FindClass(env, "dev/qsparse/runtime/kernel/WeightSlice");
    weight_slice.layout = field(env, w, "layout", "Ldev/qsparse/runtime/kernel/WeightSlice$Layout;", &ok);
    weight_slice.mapped = field(env, w, "mapped", buffer, &ok);
    weight_slice.heap = field(env, w, "heap", "[B", &ok);
    weight_slice.stride = field(env, w, "stride", "I", &ok);
    weight_slice.rows = field(env, w, "rows", "I", &ok);
    weight_slice.cols = field(env, w, "cols", "I", &ok);
    weight_slice.row_scales = field(env, w, "rowScales", buffer, &ok);
    weight_slice.o0 = field(env, w, "o0", "I", &ok);
    weight_slice.len = field(env, w, "len", "I", &ok);
    jclass a = ok ? (*env)->FindClass(env, "dev/qsparse/runtime/kernel/ActivationBatch") : NULL;
    activation_batch.values = field(env, a, "values", buffer, &ok);
    activation_batch.count = field(env, a, "count", "I", &ok);
    activation_batch.stride = field(env, a, "stride", "I", &ok);
    activation_batch.token_scales = field(env, a, "tokenScales", buffer, &ok);
    activation_batch.token_sums = field(env, a, "tokenSums", buffer, &ok);
    activation_batch.index = field(env, a, "index", buffer, &ok);
    activation_batch.counts = field(env, a, "counts", buffer, &ok);
    jclass o = ok ? (*env)->FindClass(env, "dev/qsparse/runtime/kernel/OutputBlock") : NULL;
    output_block.values = field(env, o, "values", buffer, &ok);
    output_block.stride = field(env, o, "stride", "I", &ok);
    output_block.scratch = field(env, o, "scratch", buffer, &ok);
    output_block.sums = field(env, o, "sums", "Z", &ok);
    jclass e = ok ? (*env)->FindClass(env, "java/lang/Enum") : NULL;
    enum_ordinal = e == NULL ? NULL : (*env)->GetMethodID(env, e, "ordinal", "()I");
    jclass b = enum_ordinal == NULL ? NULL : (*env)->FindClass(env, "java/nio/Buffer");
    buffer_is_read_only = b == NULL ? NULL : (*env)->GetMethodID(env, b, "isReadOnly", "()Z");
    if (!ok || buffer_is_read_only == NULL) {
        return JNI_ERR; /* the NoSuchFieldError (or NoClassDefFoundError) pending names what is missing */
    }
    for (int i = 0; i < QS_LEVELS; i++) {
        runnable[i] = qs_levels[i]->supported();
    }
    return JNI_VERSION_1_8;
}

static void throw_illegal(JNIEnv *env, const char *message) {
    jclass cls = (*env)->FindClass(env, "java/lang/IllegalArgumentException");
    if (cls != NULL) {
        (*env)->ThrowNew(env, cls, message);
    }
}

static void refuse(JNIEnv *env, const char *what) {
    char message[200];
    snprintf(message, sizeof message, "qsparse native kernel: %s", what);
    throw_illegal(env, message);
}

/* The address of a direct buffer holding at least `bytes`, or NULL with an IllegalArgumentException pending. */
static void *direct(JNIEnv *env, jobject buffer, int64_t bytes, const char *what) {
    void *p = buffer == NULL ? NULL : (*env)->GetDirectBufferAddress(env, buffer);
    if (p == NULL || (*env)->GetDirectBufferCapacity(env, buffer) < bytes) {
        char message[160];
        snprintf(message, sizeof message, "%s must be a direct buffer of at least %lld bytes", what, (long long)bytes);
        refuse(env, message);
        return NULL;
    }
    return p;
}

/*
 * As direct(), for a buffer the kernel writes: it must not be read-only either. A read-only direct
 * buffer, such as a file mapped READ_ONLY, has an address like any other: writing through it is a
 * SIGSEGV (or, for a shared mapping, a write into the file).
 */
static void *writable(JNIEnv *env, jobject buffer, int64_t bytes, const char *what) {
    if (buffer != NULL) {
        jboolean read_only = (*env)->CallBooleanMethod(env, buffer, buffer_is_read_only);
        if ((*env)->ExceptionCheck(env)) {
            return NULL;
        }
        if (read_only) {
            char message[160];
            snprintf(message, sizeof message, "%s must be a writable direct buffer, got a read-only one", what);
            refuse(env, message);
            return NULL;
        }
    }
    return direct(env, buffer, bytes, what);
}

/* The level asked for, which must run on this CPU; NULL with an exception pending otherwise. */
static const struct qs_level *level_of(JNIEnv *env, jint level) {
    if (level < 0 || level >= QS_LEVELS || !runnable[level]) {
        refuse(env, "a level this CPU does not run");
        return NULL;
    }
    return qs_levels[level];
}

/*
 * The slice's plain fields, checked. The weight bytes are resolved later (a heap array is pinned only
 * around the kernel). Returns 0 with an exception pending when a field is out of range.
 */
static int read_slice(JNIEnv *env, jobject slice, struct qs_weights *w, jobject *mapped, jbyteArray *heap) {
    if (slice == NULL) {
        refuse(env, "no weight slice");
        return 0;
    }
    jobject layout = (*env)->GetObjectField(env, slice, weight_slice.layout);
    w->layout = layout == NULL ? -1 : (*env)->CallIntMethod(env, layout, enum_ordinal);
    w->stride = (*env)->GetIntField(env, slice, weight_slice.stride);
    w->rows = (*env)->GetIntField(env, slice, weight_slice.rows);
    w->cols = (*env)->GetIntField(env, slice, weight_slice.cols);
    w->o0 = (*env)->GetIntField(env, slice, weight_slice.o0);
    w->len = (*env)->GetIntField(env, slice, weight_slice.len);
    *mapped = (*env)->GetObjectField(env, slice, weight_slice.mapped);
    *heap = (jbyteArray)(*env)->GetObjectField(env, slice, weight_slice.heap);
    if ((*env)->ExceptionCheck(env)) {
        return 0;
    }
    if (w->rows <= 0 || w->cols <= 0 || w->len <= 0 || w->o0 < 0 || w->o0 + w->len > w->rows || w->stride <= 0) {
        refuse(env, "bad weight slice shape");
        return 0;
    }
    if (w->layout != QS_F32_ROWS && (w->o0 % QS_BLOCK != 0 || w->len % QS_BLOCK != 0 || w->rows % QS_BLOCK != 0)) {
        refuse(env, "column-layout outputs must be whole blocks of 64");
        return 0;
    }
    return 1;
}

/* The batch's fields; the buffers each product needs are resolved by the caller. */
static int read_batch(JNIEnv *env, jobject batch, struct qs_batch *b) {
    if (batch == NULL) {
        refuse(env, "no activation batch");
        return 0;
    }
    b->count = (*env)->GetIntField(env, batch, activation_batch.count);
    b->stride = (*env)->GetIntField(env, batch, activation_batch.stride);
    if (b->count <= 0 || b->stride <= 0) {
        refuse(env, "bad activation batch shape");
        return 0;
    }
    return 1;
}

static jobject batch_buffer(JNIEnv *env, jobject batch, jfieldID id) {
    return (*env)->GetObjectField(env, batch, id);
}

/* The output rows (checked writable, count x stride floats, outputs [o0, o0 + len) inside a row). */
static int read_output(JNIEnv *env, jobject block, const struct qs_weights *w, const struct qs_batch *b,
                       struct qs_output *o, int64_t scratch_bytes) {
    if (block == NULL) {
        refuse(env, "no output block");
        return 0;
    }
    o->stride = (*env)->GetIntField(env, block, output_block.stride);
    o->sums = (*env)->GetBooleanField(env, block, output_block.sums) ? 1 : 0;
    if (o->stride < w->o0 + w->len) {
        refuse(env, "outputs [o0, o0 + len) past the output stride");
        return 0;
    }
    /* The outputs first: nothing is read before it is known that the results can be written. */
    o->values = writable(env, (*env)->GetObjectField(env, block, output_block.values), b->count * o->stride * 4, "out");
    if (o->values == NULL) {
        return 0;
    }
    o->scratch = NULL;
    if (scratch_bytes > 0) {
        o->scratch = writable(env, (*env)->GetObjectField(env, block, output_block.scratch), scratch_bytes, "scratch");
        return o->scratch != NULL;
    }
    return 1;
}

/* Products other than the sparse integer one write finished floats only. */
static int finished(JNIEnv *env, const struct qs_output *o) {
    if (o->sums) {
        refuse(env, "unfinished sums are written by sparse integer products only");
        return 0;
    }
    return 1;
}

typedef void (*kernel_fn)(const struct qs_weights *, const struct qs_batch *, const struct qs_output *);

/* Runs the kernel on the slice's weights, mapped or a heap array held for the call. */
static void run(JNIEnv *env, kernel_fn kernel, struct qs_weights *w, jobject mapped, jbyteArray heap,
                const struct qs_batch *b, const struct qs_output *o) {
    int64_t weight_bytes =
        w->layout == QS_F32_ROWS ? w->rows * w->cols * 4 : w->cols * w->stride;
    if ((mapped == NULL) == (heap == NULL)) {
        refuse(env, "exactly one of mapped and heap weights must be given");
    } else if (mapped != NULL) {
        w->bytes = direct(env, mapped, weight_bytes, "weights");
        if (w->bytes != NULL) {
            kernel(w, b, o);
        }
    } else if (w->layout == QS_F32_ROWS) {
        refuse(env, "float32 weights must be a direct buffer");
    } else if ((*env)->GetArrayLength(env, heap) < weight_bytes) {
        refuse(env, "weight array smaller than cols x stride");
    } else {
        /* Held for one call: the JVM may pin or copy; either way the array cannot move under us. */
        jbyte *p = (*env)->GetPrimitiveArrayCritical(env, heap, NULL);
        if (p != NULL) { /* else an OutOfMemoryError is pending */
            w->bytes = (const int8_t *)p;
            kernel(w, b, o);
            (*env)->ReleasePrimitiveArrayCritical(env, heap, p, JNI_ABORT);
        }
    }
}

JNIEXPORT jobjectArray JNICALL Java_dev_qsparse_nativekernels_NativeKernels_levelNames(JNIEnv *env, jclass cls) {
    jclass string = (*env)->FindClass(env, "java/lang/String");
    jobjectArray names = string == NULL ? NULL : (*env)->NewObjectArray(env, QS_LEVELS, string, NULL);
    for (int i = 0; names != NULL && i < QS_LEVELS; i++) {
        jstring name = (*env)->NewStringUTF(env, qs_levels[i]->name);
        if (name == NULL) {
            return NULL;
        }
        (*env)->SetObjectArrayElement(env, names, i, name);
    }
    return names;
}

JNIEXPORT jboolean JNICALL Java_dev_qsparse_nativekernels_NativeKernels_runs(JNIEnv *env, jclass cls, jint level) {
    return level >= 0 && level < QS_LEVELS && runnable[level];
}

JNIEXPORT jlong JNICALL Java_dev_qsparse_nativekernels_NativeKernels_scratchBytes(JNIEnv *env, jclass cls, jint cols,
                                                                                  jint count, jint xstride) {
    return qs_scratch_bytes(cols, count, xstride);
}

/*
 * The finish factors of an integer product: one token scale per row, and the int8 row scales or the
 * ternary token sums. 0 with an exception pending when a buffer is missing or short.
 */
static int read_finish(JNIEnv *env, jobject slice, jobject batch, struct qs_weights *w, struct qs_batch *b) {
    w->row_scales = NULL;
    b->token_sums = NULL;
    b->token_scales =
        direct(env, batch_buffer(env, batch, activation_batch.token_scales), b->count * 4, "tokenScales");
    if (b->token_scales == NULL) {
        return 0;
    }
    if (w->layout == QS_INT8_COLUMNS) {
        w->row_scales = direct(env, (*env)->GetObjectField(env, slice, weight_slice.row_scales),
                               (w->o0 + w->len) * 4, "rowScales");
        return w->row_scales != NULL;
    }
    b->token_sums = direct(env, batch_buffer(env, batch, activation_batch.token_sums), b->count * 4, "tokenSums");
    return b->token_sums != NULL;
}

JNIEXPORT void JNICALL Java_dev_qsparse_nativekernels_NativeKernels_integer(JNIEnv *env, jclass cls, jint level,
                                                                          jobject slice, jobject batch, jobject block) {
    const struct qs_level *l = level_of(env, level);
    struct qs_weights w;
    struct qs_batch b;
    struct qs_output o;
    jobject mapped;
    jbyteArray heap;
    if (l == NULL || !read_slice(env, slice, &w, &mapped, &heap) || !read_batch(env, batch, &b)) {
        return;
    }
    if (w.layout != QS_INT8_COLUMNS && w.layout != QS_TERNARY_COLUMNS) {
        refuse(env, "integer products take int8 or ternary columns");
        return;
    }
    if (b.stride % 64 != 0 || b.stride < w.cols) {
        refuse(env, "activation rows must be a multiple of 64 floats, at least the inputs");
        return;
    }
    int64_t bytes_per_column = w.layout == QS_INT8_COLUMNS ? w.o0 + w.len : (w.o0 + w.len) / 4;
    if (w.stride < bytes_per_column) {
        refuse(env, "outputs past the column stride");
        return;
    }
    if (!read_output(env, block, &w, &b, &o, qs_scratch_bytes(w.cols, b.count, b.stride)) || !finished(env, &o)) {
        return;
    }
    b.x = direct(env, batch_buffer(env, batch, activation_batch.values), b.count * b.stride * 4, "x");
    b.index = NULL;
    b.counts = NULL;
    if (b.x != NULL && read_finish(env, slice, batch, &w, &b)) {
        run(env, l->integer, &w, mapped, heap, &b, &o);
    }
}

/* Every kept-column number and count of the batch, checked before a kernel indexes weights with them. */
static int check_kept_columns(JNIEnv *env, const struct qs_weights *w, const struct qs_batch *b) {
    for (int64_t t = 0; t < b->count; t++) {
        if (b->counts[t] < 0 || b->counts[t] > w->cols) {
            refuse(env, "a kept-column count outside [0, cols]");
            return 0;
        }
        for (int64_t j = 0; j < b->counts[t]; j++) {
            int32_t c = b->index[t * b->stride + j];
            if (c < 0 || c >= w->cols) {
                refuse(env, "a column number outside [0, cols)");
                return 0;
            }
        }
    }
    return 1;
}

JNIEXPORT void JNICALL Java_dev_qsparse_nativekernels_NativeKernels_integerSparse(JNIEnv *env, jclass cls, jint level,
                                                                                jobject slice, jobject batch,
                                                                                jobject block) {
    const struct qs_level *l = level_of(env, level);
    struct qs_weights w;
    struct qs_batch b;
    struct qs_output o;
    jobject mapped;
    jbyteArray heap;
    if (l == NULL || !read_slice(env, slice, &w, &mapped, &heap) || !read_batch(env, batch, &b)) {
        return;
    }
    if (w.layout != QS_INT8_COLUMNS && w.layout != QS_TERNARY_COLUMNS) {
        refuse(env, "integer products take int8 or ternary columns");
        return;
    }
    int64_t bytes_per_column = w.layout == QS_INT8_COLUMNS ? w.o0 + w.len : (w.o0 + w.len) / 4;
    if (b.stride < w.cols || w.stride < bytes_per_column) {
        refuse(env, "bad shape arguments");
        return;
    }
    if (!read_output(env, block, &w, &b, &o, qs_sparse_scratch_bytes(w.cols))) {
        return;
    }
    b.x = direct(env, batch_buffer(env, batch, activation_batch.values), b.count * b.stride * 4, "x");
    b.index = b.x == NULL ? NULL
                          : direct(env, batch_buffer(env, batch, activation_batch.index), b.count * b.stride * 4,
                                   "index");
    b.counts = b.index == NULL ? NULL
                               : direct(env, batch_buffer(env, batch, activation_batch.counts), b.count * 4, "counts");
    if (b.counts != NULL && read_finish(env, slice, batch, &w, &b) && check_kept_columns(env, &w, &b)) {
        run(env, l->integer_sparse, &w, mapped, heap, &b, &o);
    }
}

/* Every kept-column number of the batch is checked before the kernel indexes weights with it. */
JNIEXPORT void JNICALL Java_dev_qsparse_nativekernels_NativeKernels_int8Float(JNIEnv *env, jclass cls, jint level,
                                                                            jobject slice, jobject batch,
                                                                            jobject block) {
    const struct qs_level *l = level_of(env, level);
    struct qs_weights w;
    struct qs_batch b;
    struct qs_output o;
    jobject mapped;
    jbyteArray heap;
    if (l == NULL || !read_slice(env, slice, &w, &mapped, &heap) || !read_batch(env, batch, &b)) {
        return;
    }
    if (w.layout != QS_INT8_COLUMNS) {
        refuse(env, "float-activation products take int8 columns");
        return;
    }
    if (b.stride < w.cols || w.stride < w.o0 + w.len) {
        refuse(env, "bad shape arguments");
        return;
    }
    if (!read_output(env, block, &w, &b, &o, 0) || !finished(env, &o)) {
        return;
    }
    b.x = direct(env, batch_buffer(env, batch, activation_batch.values), b.count * b.stride * 4, "x");
    b.index = b.x == NULL ? NULL
                          : direct(env, batch_buffer(env, batch, activation_batch.index), b.count * b.stride * 4,
                                   "index");
    b.counts = b.index == NULL ? NULL
                               : direct(env, batch_buffer(env, batch, activation_batch.counts), b.count * 4, "counts");
    b.token_scales = b.counts == NULL ? NULL
                                      : direct(env, batch_buffer(env, batch, activation_batch.token_scales),
                                               b.count * 4, "tokenScales");
    w.row_scales = b.token_scales == NULL ? NULL
                                          : direct(env, (*env)->GetObjectField(env, slice, weight_slice.row_scales),
                                                   (w.o0 + w.len) * 4, "rowScales");
    if (w.row_scales == NULL) {
        return;
    }
    b.token_sums = NULL;
    if (check_kept_columns(env, &w, &b)) {
        run(env, l->int8_float, &w, mapped, heap, &b, &o);
    }
}

JNIEXPORT void JNICALL Java_dev_qsparse_nativekernels_NativeKernels_f32(JNIEnv *env, jclass cls, jint level,
                                                                      jobject slice, jobject batch, jobject block) {
    const struct qs_level *l = level_of(env, level);
    struct qs_weights w;
    struct qs_batch b;
    struct qs_output o;
    jobject mapped;
    jbyteArray heap;
    if (l == NULL || !read_slice(env, slice, &w, &mapped, &heap) || !read_batch(env, batch, &b)) {
        return;
    }
    if (w.layout != QS_F32_ROWS || w.stride != w.cols || b.stride < w.cols) {
        refuse(env, "float32 products take row-major float rows, inputs at least as wide");
        return;
    }
    if (!read_output(env, block, &w, &b, &o, 0) || !finished(env, &o)) {
        return;
    }
    b.x = direct(env, batch_buffer(env, batch, activation_batch.values), b.count * b.stride * 4, "x");
    if (b.x == NULL) {
        return;
    }
    w.row_scales = NULL;
    b.token_scales = NULL;
    b.token_sums = NULL;
    b.index = NULL;
    b.counts = NULL;
    run(env, l->f32_rows, &w, mapped, heap, &b, &o);
}
