import { describe, expect, it } from 'vitest';
import { civilFromDays, civilFromUnix, daysFromCivil, unixFromCivil, weekdayFromDays } from './civil.js';

// Reference values computed independently (Python's calendar.timegm / datetime).
const KNOWN: [string, number, number][] = [
  // [date-time, unix, weekday 0=Sunday]
  ['1970-01-01 00:00:00', 0, 4],
  ['1969-12-31 23:59:59', -1, 3],
  ['1900-03-01 00:00:00', -2203891200, 4],
  ['1999-12-31 23:59:58', 946684798, 5],
  ['2000-01-01 00:00:00', 946684800, 6],
  ['2024-02-29 13:45:56', 1709214356, 4],
  ['2038-01-19 03:14:07', 2147483647, 2],
  ['2100-01-01 00:00:00', 4102444800, 5],
  ['9999-12-31 23:59:59', 253402300799, 5],
];

function fmt(t: number): string {
  const c = civilFromUnix(t);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(c.year, 4)}-${p(c.month)}-${p(c.day)} ${p(c.hour)}:${p(c.minute)}:${p(c.second)}`;
}

describe('civil calendar', () => {
  it.each(KNOWN)('%s <-> %d', (s, unix, wd) => {
    expect(fmt(unix)).toBe(s);
    expect(civilFromUnix(unix).weekday).toBe(wd);
    const [d, t] = s.split(' ');
    const [y, mo, da] = d.split('-').map(Number);
    const [h, mi, se] = t.split(':').map(Number);
    expect(unixFromCivil(y, mo, da, h, mi, se)).toBe(unix);
  });

  it('1600-02-29 is day -135081 (a leap day of a 400-year leap century)', () => {
    expect(daysFromCivil(1600, 2, 29)).toBe(-135081);
    expect(civilFromDays(-135081)).toEqual({ year: 1600, month: 2, day: 29 });
  });

  it('round-trips and steps one day at a time over +-2000 years', () => {
    const bad: number[] = [];
    let prev = civilFromDays(-800001);
    for (let d = -800000; d <= 800000; d += 1) {
      const c = civilFromDays(d);
      if (daysFromCivil(c.year, c.month, c.day) !== d) bad.push(d);
      // successor: the next day of the month, or day 1 of the next month (and year)
      const next =
        c.day === prev.day + 1 && c.month === prev.month && c.year === prev.year
          ? true
          : c.day === 1 && (c.month === 1 ? c.year === prev.year + 1 && prev.month === 12 : c.year === prev.year && c.month === prev.month + 1);
      if (!next) bad.push(d);
      prev = c;
    }
    expect(bad).toEqual([]);
  });

  it('carries out-of-range fields over like timegm', () => {
    expect(unixFromCivil(2000, 2, 31, 0, 0, 0)).toBe(unixFromCivil(2000, 3, 2, 0, 0, 0));
    expect(unixFromCivil(1999, 13, 1, 0, 0, 0)).toBe(946684800);
    expect(unixFromCivil(2000, 0, 1, 0, 0, 0)).toBe(unixFromCivil(1999, 12, 1, 0, 0, 0));
    expect(unixFromCivil(1999, 12, 31, 23, 59, 60)).toBe(946684800);
  });

  it('weekday wraps for negative days', () => {
    expect(weekdayFromDays(-1)).toBe(3);
    expect(weekdayFromDays(-7)).toBe(4);
  });
});
