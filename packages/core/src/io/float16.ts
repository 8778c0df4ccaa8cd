/**
 * Bit-level conversions for 16-bit floats stored in weight files.
 *
 * IEEE 754 half (F16): 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
 * bfloat16 (BF16): the upper 16 bits of an IEEE 754 float32.
 */

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/**
 * Decodes one IEEE 754 half-precision value given as its 16 raw bits.
 *
 * @example halfBitsToFloat(0x3c00) === 1; halfBitsToFloat(0x0001) === 2 ** -24
 */
export function halfBitsToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero or subnormal
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/**
 * Decodes one bfloat16 value given as its 16 raw bits (exact: bf16 ⊂ f32).
 *
 * @example bf16BitsToFloat(0x3f80) === 1
 */
export function bf16BitsToFloat(bits: number): number {
  u32Scratch[0] = (bits & 0xffff) << 16;
  return f32Scratch[0];
}
