// Proleptic Gregorian calendar <-> days since 1970-01-01, in exact integer arithmetic.
// (The algorithm is the well-known era/day-of-era decomposition: 400-year eras of 146097
// days, years starting on March 1 so that the leap day is the last day of the year.)
// No Date object anywhere: guest-visible time must not depend on the host's time zone
// or clock.

import { floorDiv } from '../exact-math.js';

const DAYS_PER_ERA = 146097; // 400 Gregorian years
const EPOCH_SHIFT = 719468; // days from 0000-03-01 to 1970-01-01

export interface CivilDate {
  year: number;
  /** 1-12 */
  month: number;
  /** 1-31 */
  day: number;
}

/** Days since 1970-01-01 of a date. Months outside 1-12 and days outside the month carry over. */
export function daysFromCivil(year: number, month: number, day: number): number {
  // Normalise the month into 1-12, carrying whole years.
  const m0 = month - 1;
  const y = year + floorDiv(m0, 12);
  const m = m0 - floorDiv(m0, 12) * 12 + 1;
  const yy = m <= 2 ? y - 1 : y; // the year counted from March
  const era = floorDiv(yy, 400);
  const yoe = yy - era * 400; // [0, 399]
  const mp = m > 2 ? m - 3 : m + 9; // March = 0
  const doy = floorDiv(153 * mp + 2, 5) + day - 1;
  const doe = yoe * 365 + floorDiv(yoe, 4) - floorDiv(yoe, 100) + doy;
  return era * DAYS_PER_ERA + doe - EPOCH_SHIFT;
}

/** The date of a day number (days since 1970-01-01, any sign). */
export function civilFromDays(days: number): CivilDate {
  const z = days + EPOCH_SHIFT;
  const era = floorDiv(z, DAYS_PER_ERA);
  const doe = z - era * DAYS_PER_ERA; // [0, 146096]
  const yoe = floorDiv(doe - floorDiv(doe, 1460) + floorDiv(doe, 36524) - floorDiv(doe, 146096), 365); // [0, 399]
  const doy = doe - (365 * yoe + floorDiv(yoe, 4) - floorDiv(yoe, 100)); // [0, 365]
  const mp = floorDiv(5 * doy + 2, 153); // [0, 11], March = 0
  const day = doy - floorDiv(153 * mp + 2, 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month, day };
}

/** Day of the week, 0 = Sunday (1970-01-01 was a Thursday). */
export function weekdayFromDays(days: number): number {
  return days + 4 - floorDiv(days + 4, 7) * 7;
}

export interface CivilTime extends CivilDate {
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday */
  weekday: number;
}

/** Broken-down UTC time of a Unix time in whole seconds. */
export function civilFromUnix(t: number): CivilTime {
  const days = floorDiv(t, 86400);
  const sod = t - days * 86400;
  const d = civilFromDays(days);
  return {
    ...d,
    hour: floorDiv(sod, 3600),
    minute: floorDiv(sod, 60) % 60,
    second: sod % 60,
    weekday: weekdayFromDays(days),
  };
}

/** Unix time of a broken-down UTC time; out-of-range fields carry over (like timegm). */
export function unixFromCivil(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  return daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}
