// The decode matvec (one token): y[o] = sum_i w[o][i] * x[i], weights read in place in their GGUF
// layout, aiming at the HBM bandwidth.
//
// A row is cut into "units" of a few values (8 for F16/BF16, 4 for F32, 16 for Q8_0, 32 for the
// other block types) whose weight bytes a thread reads with one or two 16-byte loads (or, where the
// block layout is only 1- or 2-byte aligned, with aligned 4-byte loads realigned by funnel shifts).
// A group of W warps (W = 1, 2, 4 or 8, chosen per shape so that the grid fills the GPU) computes R
// consecutive rows at once: each thread loads a unit of x once (16-byte loads through the read-only
// cache) and uses it for all R rows, then the group reduces with warp shuffles (and shared memory
// across its warps). Blocks are 256 threads: 8 / W groups, 8 / W * R rows a block.
//
// The per-unit functions (mv_load_x, mv_dot) are host-and-device code so that a host program
// (src/test/cuda/matvec_host.cu, run by the tests module's CudaDequantHostTest) checks the unit
// layouts against the Java reference without a GPU.
#pragma once

#include "common.cuh"

namespace isthmus {

// Values a unit holds, per type.
template <int T>
ISTHMUS_HD constexpr int mv_unit() {
    return T == T_F32 ? 4 : (T == T_F16 || T == T_BF16) ? 8 : T == T_Q8_0 ? 16 : 32;
}

// Rows a group computes at once (x is loaded once for them).
template <int T>
ISTHMUS_HD constexpr int mv_rows() {
    return (T == T_F32 || T == T_F16 || T == T_BF16) ? 2 : 4;
}

// Unit iterations a thread keeps in flight (the K types' units are heavy on registers already).
template <int T>
ISTHMUS_HD constexpr int mv_unroll() {
    return (T == T_Q4_K || T == T_Q5_K || T == T_Q6_K) ? 1 : 2;
}

ISTHMUS_HD unsigned int mv_ld32(const uint8_t *p) {  // p 4-byte aligned
#ifdef __CUDA_ARCH__
    return __ldg(reinterpret_cast<const unsigned int *>(p));
#else
    unsigned int v;
    memcpy(&v, p, 4);
    return v;
#endif
}

ISTHMUS_HD unsigned short mv_ld16(const uint8_t *p) {  // p 2-byte aligned
#ifdef __CUDA_ARCH__
    return __ldg(reinterpret_cast<const unsigned short *>(p));
#else
    return ld_u16(p);
#endif
}

ISTHMUS_HD uint4 mv_ld128(const uint8_t *p) {  // p 16-byte aligned
#ifdef __CUDA_ARCH__
    return __ldg(reinterpret_cast<const uint4 *>(p));
#else
    uint4 v;
    memcpy(&v, p, 16);
    return v;
#endif
}

ISTHMUS_HD float4 mv_ldx(const float *p) {  // p 16-byte aligned
#ifdef __CUDA_ARCH__
    return __ldg(reinterpret_cast<const float4 *>(p));
#else
    float4 v;
    memcpy(&v, p, 16);
    return v;
#endif
}

ISTHMUS_HD unsigned int mv_funnel(unsigned int lo, unsigned int hi, unsigned int shift) {  // shift in 0..31
#ifdef __CUDA_ARCH__
    return __funnelshift_r(lo, hi, shift);
#else
    return (unsigned int) (((((unsigned long long) hi) << 32) | lo) >> shift);
#endif
}

// 16 bytes at p, any alignment, through aligned 4-byte loads; every word read holds at least one of
// the 16 bytes (so a read never leaves an allocation whose size is a multiple of 4).
ISTHMUS_HD uint4 mv_ld128_any(const uint8_t *p) {
    const unsigned long long a = (unsigned long long) (size_t) p;
    const uint8_t *base = p - (a & 3);
    const unsigned int sh = (unsigned int) (a & 3) * 8;
    const unsigned int w0 = mv_ld32(base);
    const unsigned int w1 = mv_ld32(base + 4);
    const unsigned int w2 = mv_ld32(base + 8);
    const unsigned int w3 = mv_ld32(base + 12);
    const unsigned int w4 = sh != 0 ? mv_ld32(base + 16) : 0u;
    uint4 r;
    r.x = mv_funnel(w0, w1, sh);
    r.y = mv_funnel(w1, w2, sh);
    r.z = mv_funnel(w2, w3, sh);
    r.w = mv_funnel(w3, w4, sh);
    return r;
}

// Byte i (0..15, a compile-time constant after unrolling) of a 16-byte vector.
ISTHMUS_HD int mv_byte(const uint4 &v, int i) {
    const unsigned int w = i < 4 ? v.x : i < 8 ? v.y : i < 12 ? v.z : v.w;
    return (int) ((w >> (8 * (i & 3))) & 0xFF);
}

ISTHMUS_HD float mv_half_lo(unsigned int w) {
    return __half2float(__ushort_as_half((unsigned short) (w & 0xFFFF)));
}

ISTHMUS_HD float mv_half_hi(unsigned int w) {
    return __half2float(__ushort_as_half((unsigned short) (w >> 16)));
}

ISTHMUS_HD unsigned int mv_perm(unsigned int x, unsigned int y, unsigned int sel) {  // selector nibbles 0..7
#ifdef __CUDA_ARCH__
    return __byte_perm(x, y, sel);
#else
    const unsigned long long v = (((unsigned long long) y) << 32) | x;
    unsigned int r = 0;
    for (int i = 0; i < 4; i++) r |= (unsigned int) ((v >> (8 * ((sel >> (4 * i)) & 7))) & 0xFF) << (8 * i);
    return r;
#endif
}

// Byte k (0..3, a compile-time constant after unrolling) of w as a float, minus OFF, exactly: the byte
// goes into the mantissa of 2^23 (one byte permute and one add instead of an integer-to-float
// conversion, which runs at a quarter of the rate and bounds the quantized matvecs).
template <int OFF>
ISTHMUS_HD float mv_bytef(unsigned int w, int k) {
    return bits_to_float(mv_perm(w, 0x4B000000u, 0x7540u | (unsigned int) k)) - (8388608.0f + (float) OFF);
}

// The 6-bit scale and min of group j (0..7) of a Q4_K/Q5_K super-block from its 16-byte header in
// registers (h.x: d and dmin; h.y, h.z, h.w: the 12 packed scale bytes), as k_scale_min, branch-free.
ISTHMUS_HD void mv_k_scale_min(const uint4 &h, int j, int &s, int &m) {
    const int sh = 8 * (j & 3);
    const unsigned int a = h.y >> sh;  // sc[j & 3]
    const unsigned int b = h.z >> sh;  // sc[(j & 3) + 4]
    const unsigned int c = h.w >> sh;  // sc[(j & 3) + 8]
    const bool low = j < 4;
    s = (int) (low ? (a & 63u) : ((c & 0xFu) | (((a >> 6) & 3u) << 4)));
    m = (int) (low ? (b & 63u) : (((c >> 4) & 0xFu) | (((b >> 6) & 3u) << 4)));
}

// E2M1 value times two for a 4-bit code (0, 1, 2, 3, 4, 6, 8, 12 and their negatives), without a table.
ISTHMUS_HD int mv_e2m1x2(int q) {
    const int m = q & 7;
    const int mag = m < 4 ? m : (2 + (m & 1)) << ((m >> 1) - 1);
    return (q & 8) ? -mag : mag;
}

// The x values unit u multiplies, in the order mv_dot expects. x is 16-byte aligned.
template <int T>
ISTHMUS_HD void mv_load_x(const float *x, int u, float (&xv)[mv_unit<T>()]) {
    constexpr int U = mv_unit<T>();
    if (T == T_F32 || T == T_F16 || T == T_BF16 || T == T_Q8_0 || T == T_Q4_0 || T == T_MXFP4) {
        // contiguous: values [U*u, U*u + U)
        const float *p = x + (long long) U * u;
ISTHMUS_UNROLL
        for (int i = 0; i < U / 4; i++) {
            const float4 v = mv_ldx(p + 4 * i);
            xv[4 * i] = v.x;
            xv[4 * i + 1] = v.y;
            xv[4 * i + 2] = v.z;
            xv[4 * i + 3] = v.w;
        }
    } else {
        // K types: two runs of 16 (the groups A and B the unit's 16 bytes serve), see mv_groups
        int ga, gb, l0;
        const int sb = u >> 3;
        const int k = u & 7;
        if (T == T_Q6_K) {
            const int h = k >> 2;
            const int k1 = (k >> 1) & 1;
            l0 = 16 * (k & 1);
            ga = 4 * h + k1;
            gb = 4 * h + k1 + 2;
        } else {
            const int cc = k >> 1;
            l0 = 16 * (k & 1);
            ga = 2 * cc;
            gb = 2 * cc + 1;
        }
        const float *pa = x + 256LL * sb + 32 * ga + l0;
        const float *pb = x + 256LL * sb + 32 * gb + l0;
ISTHMUS_UNROLL
        for (int i = 0; i < 4; i++) {
            const float4 a = mv_ldx(pa + 4 * i);
            const float4 b = mv_ldx(pb + 4 * i);
            xv[4 * i] = a.x;
            xv[4 * i + 1] = a.y;
            xv[4 * i + 2] = a.z;
            xv[4 * i + 3] = a.w;
            xv[16 + 4 * i] = b.x;
            xv[16 + 4 * i + 1] = b.y;
            xv[16 + 4 * i + 2] = b.z;
            xv[16 + 4 * i + 3] = b.w;
        }
    }
}

// The sums of a unit's two 16-value x runs, which the K types' minimums multiply (the same for every
// row of a group, so computed once a unit); zero for the other types, which ignore them.
template <int T>
ISTHMUS_HD float2 mv_xsums(const float (&xv)[mv_unit<T>()]) {
    float2 s = make_float2(0.f, 0.f);
    if (T == T_Q4_K || T == T_Q5_K) {
ISTHMUS_UNROLL
        for (int i = 0; i < 16; i++) {
            s.x += xv[i];
            s.y += xv[16 + i];
        }
    }
    return s;
}

// The dot product of unit u of a row (its weight bytes start at row) with the unit's x values.
// Row alignment: 16 bytes for F32/F16/BF16/Q4_K/Q5_K (their units are 16-byte aligned then); the other
// types need 2 (Q8_0, Q4_0, Q6_K) or 1 (MXFP4).
template <int T>
ISTHMUS_HD float mv_dot(const uint8_t *row, int u, const float (&xv)[mv_unit<T>()], const float2 &xs) {
    if (T == T_F32) {
        const uint4 v = mv_ld128(row + 16LL * u);
        return bits_to_float(v.x) * xv[0] + bits_to_float(v.y) * xv[1] + bits_to_float(v.z) * xv[2] +
               bits_to_float(v.w) * xv[3];
    } else if (T == T_F16 || T == T_BF16) {
        const uint4 v = mv_ld128(row + 16LL * u);
        const unsigned int w[4] = {v.x, v.y, v.z, v.w};
        float acc = 0.f;
ISTHMUS_UNROLL
        for (int i = 0; i < 4; i++) {
            if (T == T_F16) {
                acc += mv_half_lo(w[i]) * xv[2 * i] + mv_half_hi(w[i]) * xv[2 * i + 1];
            } else {
                acc += bits_to_float(w[i] << 16) * xv[2 * i] + bits_to_float(w[i] & 0xFFFF0000u) * xv[2 * i + 1];
            }
        }
        return acc;
    } else if (T == T_Q8_0) {
        const uint8_t *p = row + 34LL * (u >> 1);
        const float d = __half2float(__ushort_as_half(mv_ld16(p)));
        const uint4 q = mv_ld128_any(p + 2 + 16 * (u & 1));
        // signed bytes: flip the sign bit (s + 128 as unsigned), then take 128 off again
        const unsigned int w[4] = {q.x ^ 0x80808080u, q.y ^ 0x80808080u, q.z ^ 0x80808080u, q.w ^ 0x80808080u};
        float acc = 0.f;
ISTHMUS_UNROLL
        for (int i = 0; i < 16; i++) acc += mv_bytef<128>(w[i >> 2], i & 3) * xv[i];
        return acc * d;
    } else if (T == T_Q4_0) {
        const uint8_t *p = row + 18LL * u;
        const float d = __half2float(__ushort_as_half(mv_ld16(p)));
        const uint4 q = mv_ld128_any(p + 2);
        const unsigned int w[4] = {q.x, q.y, q.z, q.w};
        float acc = 0.f;
ISTHMUS_UNROLL
        for (int j = 0; j < 4; j++) {
            const unsigned int lo = w[j] & 0x0F0F0F0Fu;
            const unsigned int hi = (w[j] >> 4) & 0x0F0F0F0Fu;
ISTHMUS_UNROLL
            for (int k = 0; k < 4; k++) {
                acc += mv_bytef<8>(lo, k) * xv[4 * j + k] + mv_bytef<8>(hi, k) * xv[16 + 4 * j + k];
            }
        }
        return acc * d;
    } else if (T == T_MXFP4) {
        const uint8_t *p = row + 17LL * u;
        const float d = e8m0_half(p[0]);
        const uint4 q = mv_ld128_any(p + 1);
        float acc = 0.f;
ISTHMUS_UNROLL
        for (int i = 0; i < 16; i++) {
            const int b = mv_byte(q, i);
            acc += (float) mv_e2m1x2(b & 0xF) * xv[i] + (float) mv_e2m1x2(b >> 4) * xv[16 + i];
        }
        return acc * d;
    } else if (T == T_Q4_K || T == T_Q5_K) {
        const int sb = u >> 3;
        const int k = u & 7;
        const int cc = k >> 1;
        const int l0 = 16 * (k & 1);
        const uint8_t *p = row + (T == T_Q4_K ? 144LL : 176LL) * sb;
        const uint4 hdr = mv_ld128(p);  // d, dmin, 12 scale bytes
        const float d = mv_half_lo(hdr.x);
        const float dmin = mv_half_hi(hdr.x);
        int sa, ma, sbb, mb;
        mv_k_scale_min(hdr, 2 * cc, sa, ma);
        mv_k_scale_min(hdr, 2 * cc + 1, sbb, mb);
        const uint4 q = mv_ld128(p + (T == T_Q4_K ? 16 : 48) + 32 * cc + l0);
        uint4 qh = make_uint4(0, 0, 0, 0);
        if (T == T_Q5_K) qh = mv_ld128(p + 16 + l0);
        const unsigned int w[4] = {q.x, q.y, q.z, q.w};
        const unsigned int wh[4] = {qh.x, qh.y, qh.z, qh.w};
        float dota = 0.f, dotb = 0.f;
ISTHMUS_UNROLL
        for (int j = 0; j < 4; j++) {
            unsigned int lo = w[j] & 0x0F0F0F0Fu;
            unsigned int hi = (w[j] >> 4) & 0x0F0F0F0Fu;
            if (T == T_Q5_K) {
                lo |= ((wh[j] >> (2 * cc)) & 0x01010101u) << 4;
                hi |= ((wh[j] >> (2 * cc + 1)) & 0x01010101u) << 4;
            }
ISTHMUS_UNROLL
            for (int k = 0; k < 4; k++) {
                dota += mv_bytef<0>(lo, k) * xv[4 * j + k];
                dotb += mv_bytef<0>(hi, k) * xv[16 + 4 * j + k];
            }
        }
        return d * ((float) sa * dota + (float) sbb * dotb) - dmin * ((float) ma * xs.x + (float) mb * xs.y);
    } else {  // Q6_K
        const int sb = u >> 3;
        const int k = u & 7;
        const int h = k >> 2;
        const int k1 = (k >> 1) & 1;
        const int l0 = 16 * (k & 1);
        const uint8_t *p = row + 210LL * sb;
        const float d = __half2float(__ushort_as_half(mv_ld16(p + 208)));
        const uint4 ql = mv_ld128_any(p + 64 * h + 32 * k1 + l0);
        const uint4 qh = mv_ld128_any(p + 128 + 32 * h + l0);
        const int8_t *sc = reinterpret_cast<const int8_t *>(p + 192 + 8 * h + l0 / 16);
        const float sca = (float) sc[2 * k1];
        const float scb = (float) sc[2 * (k1 + 2)];
        const unsigned int wl[4] = {ql.x, ql.y, ql.z, ql.w};
        const unsigned int wh[4] = {qh.x, qh.y, qh.z, qh.w};
        float dota = 0.f, dotb = 0.f;
ISTHMUS_UNROLL
        for (int j = 0; j < 4; j++) {
            const unsigned int a = (wl[j] & 0x0F0F0F0Fu) | (((wh[j] >> (2 * k1)) & 0x03030303u) << 4);
            const unsigned int b = ((wl[j] >> 4) & 0x0F0F0F0Fu) | (((wh[j] >> (2 * (k1 + 2))) & 0x03030303u) << 4);
ISTHMUS_UNROLL
            for (int k = 0; k < 4; k++) {
                dota += mv_bytef<32>(a, k) * xv[4 * j + k];
                dotb += mv_bytef<32>(b, k) * xv[16 + 4 * j + k];
            }
        }
        return d * (sca * dota + scb * dotb);
    }
}

constexpr int MV_THREADS = 256;

// One block: 8 / W groups of W warps, each group R consecutive rows (see the top of this file).
template <int T, int W>
__global__ void __launch_bounds__(MV_THREADS) matvec_units(const uint8_t *__restrict__ w, int rows, int cols,
                                                          const float *__restrict__ x, float *__restrict__ y) {
    constexpr int R = mv_rows<T>();
    constexpr int U = mv_unit<T>();
    constexpr int GROUPS = 8 / W;
    __shared__ float part[8][R];
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int group = warp / W;
    const int tg = (warp % W) * 32 + lane;
    const int r0 = (blockIdx.x * GROUPS + group) * R;
    const long long rb = row_bytes<T>(cols);
    const int units = cols / U;
    const uint8_t *rowp[R];
#pragma unroll
    for (int r = 0; r < R; r++) rowp[r] = w + (long long) min(r0 + r, rows - 1) * rb;  // past the end: re-read, never written
    float acc[R];
#pragma unroll
    for (int r = 0; r < R; r++) acc[r] = 0.f;
#pragma unroll(mv_unroll<T>())
    for (int u = tg; u < units; u += 32 * W) {
        float xv[U];
        mv_load_x<T>(x, u, xv);
        const float2 xs = mv_xsums<T>(xv);
#pragma unroll
        for (int r = 0; r < R; r++) acc[r] += mv_dot<T>(rowp[r], u, xv, xs);
    }
#pragma unroll
    for (int r = 0; r < R; r++) acc[r] = warp_sum(acc[r]);
    if (W == 1) {
        if (lane == 0) {
#pragma unroll
            for (int r = 0; r < R; r++) {
                if (r0 + r < rows) y[r0 + r] = acc[r];
            }
        }
        return;
    }
    if (lane == 0) {
#pragma unroll
        for (int r = 0; r < R; r++) part[warp][r] = acc[r];
    }
    __syncthreads();
    if (warp % W == 0 && lane == 0) {
#pragma unroll
        for (int r = 0; r < R; r++) {
            float s = 0.f;
#pragma unroll
            for (int k = 0; k < W; k++) s += part[warp + k][r];
            if (r0 + r < rows) y[r0 + r] = s;
        }
    }
}

// Launches the unit matvec when the shape and alignments allow it; false leaves the call to the
// general kernels. x must be 16-byte aligned, w 16-byte aligned, and float rows a whole number of units.
template <int T>
bool launch_matvec_units(cudaStream_t s, const uint8_t *w, int rows, int cols, const float *x, float *y, int sms) {
    constexpr int R = mv_rows<T>();
    constexpr int U = mv_unit<T>();
    if ((((size_t) x) & 15) != 0 || (((size_t) w) & 15) != 0 || cols % U != 0) return false;
    const long long groups = ((long long) rows + R - 1) / R;
    const int units = cols / U;
    // Widen the group (more warps a row) while the grid is short of ~64 warps an SM and every thread of
    // the wider group still gets at least one unit.
    const long long target = 64LL * (sms > 0 ? sms : 132);
    int wv = 1;
    while (wv < 8 && groups * wv < target && units >= 64 * wv) wv *= 2;
    const long long blocks = (groups + (8 / wv) - 1) / (8 / wv);
    if (blocks > 0x7fffffffLL) return false;
    const dim3 grid((unsigned int) blocks);
    switch (wv) {
        case 1: matvec_units<T, 1><<<grid, MV_THREADS, 0, s>>>(w, rows, cols, x, y); break;
        case 2: matvec_units<T, 2><<<grid, MV_THREADS, 0, s>>>(w, rows, cols, x, y); break;
        case 4: matvec_units<T, 4><<<grid, MV_THREADS, 0, s>>>(w, rows, cols, x, y); break;
        default: matvec_units<T, 8><<<grid, MV_THREADS, 0, s>>>(w, rows, cols, x, y); break;
    }
    return true;
}

}  // namespace isthmus
