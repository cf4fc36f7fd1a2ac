import { describe, expect, it } from 'vitest';
import { bytes, count, hex, isHash, overhead, percent, publicationPlace, shape, short } from '../src/format';

describe('format', () => {
  it('prints byte sizes in binary units', () => {
    expect(bytes(0)).toBe('0 B');
    expect(bytes(1023)).toBe('1023 B');
    expect(bytes(1536)).toBe('1.50 KiB');
    expect(bytes('1048576')).toBe('1.00 MiB');
    expect(bytes(15.5 * 1024 * 1024)).toBe('15.5 MiB');
    expect(bytes(300 * 1024 ** 3)).toBe('300 GiB');
    expect(bytes('not a number')).toBe('not a number');
  });
  it('groups digits, and leaves non-numbers alone', () => {
    expect(count(0)).toBe('0');
    expect(count('1234567')).toBe('1,234,567');
    expect(count('18446744073709551615')).toBe('18,446,744,073,709,551,615');
    expect(count('-3')).toBe('-3');
  });
  it('shortens hashes only when there is something to cut', () => {
    expect(short('a'.repeat(64))).toBe(`${'a'.repeat(12)}…`);
    expect(short('abcdef', 12)).toBe('abcdef');
  });
  it('prints shares without claiming 0% or 100% that are not', () => {
    expect(percent(0)).toBe('0%');
    expect(percent(1)).toBe('100%');
    expect(percent(0.5)).toBe('50%');
    expect(percent(0.05)).toBe('5.0%');
    expect(percent(0.99999)).toBe('99.9%');
    expect(percent(0.0000001)).toBe('<0.1%');
    expect(percent(Number.NaN)).toBe('–');
  });
  it('prints shapes, places, overheads and hex', () => {
    expect(shape([1000, 1024])).toBe('1000 × 1024');
    expect(shape([])).toBe('scalar');
    expect(publicationPlace('1234.2')).toBe('height 1,234 #2');
    expect(publicationPlace('0.7')).toBe('registered #7');
    expect(overhead(1.2749)).toBe('1.27× the model bytes');
    expect(overhead(0)).toBe('–');
    expect(hex(new Uint8Array([0, 15, 255]))).toBe('000fff');
    expect(isHash('A'.repeat(64))).toBe(true);
    expect(isHash('a'.repeat(63))).toBe(false);
    expect(isHash('g'.repeat(64))).toBe(false);
  });
});
