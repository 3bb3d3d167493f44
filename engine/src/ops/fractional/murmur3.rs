//! MurmurHash3 x86 32-bit, whole and incremental: the hash every `fractional`
//! scheme buckets by.

/// MurmurHash3 x86 32-bit.
pub fn murmur3_x86_32(data: &[u8], seed: u32) -> u32 {
    let mut hasher = Murmur3::new(seed);
    hasher.write(data);
    hasher.finish()
}

/// Incremental MurmurHash3 x86 32-bit, so that several pieces (or an encoder's
/// output) hash as their concatenation without a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Murmur3 {
    h: u32,
    /// The bytes of an incomplete block, little-endian, in the low `bits`
    /// bits.
    pending: u64,
    /// How many bits `pending` holds: 0, 8, 16 or 24.
    bits: u32,
    /// The length so far, modulo 2^32 as the algorithm mixes it in.
    len: u32,
}

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

impl Murmur3 {
    pub(crate) fn new(seed: u32) -> Self {
        Murmur3 {
            h: seed,
            pending: 0,
            bits: 0,
            len: 0,
        }
    }

    #[inline(always)]
    fn mix_k(k: u32) -> u32 {
        k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
    }

    #[inline(always)]
    fn block(h: u32, k: u32) -> u32 {
        (h ^ Self::mix_k(k))
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64)
    }

    #[inline]
    #[allow(clippy::cast_possible_truncation)]
    pub(crate) fn write(&mut self, data: &[u8]) {
        // Truncation keeps the length modulo 2^32.
        self.len = self.len.wrapping_add(data.len() as u32);
        let (mut h, mut pending, mut bits) = (self.h, self.pending, self.bits);
        let (blocks, rest) = data.as_chunks::<4>();
        for block in blocks {
            // The pending bytes lead the block; as many are left over.
            pending |= u64::from(u32::from_le_bytes(*block)) << bits;
            h = Self::block(h, pending as u32);
            pending >>= 32;
        }
        for &byte in rest {
            pending |= u64::from(byte) << bits;
            bits += 8;
            if bits == 32 {
                h = Self::block(h, pending as u32);
                pending = 0;
                bits = 0;
            }
        }
        (self.h, self.pending, self.bits) = (h, pending, bits);
    }

    #[allow(clippy::cast_possible_truncation)]
    pub(crate) fn finish(&self) -> u32 {
        let mut h = self.h;
        if self.bits > 0 {
            // Fewer than 32 bits are pending.
            h ^= Self::mix_k(self.pending as u32);
        }
        h ^= self.len;
        h ^= h >> 16;
        h = h.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 13;
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^ (h >> 16)
    }
}
