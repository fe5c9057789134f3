// Deterministic demo profiles: user N always gets the same name, locale, zone, genres, phone and birthday,
// so tests and benchmarks can rely on them across re-seeds. Only the subscription expiry depends on the
// seeding time, because "expires within N days" filters need dates in the near future.

export const GENRES = [
  "drama",
  "comedy",
  "thriller",
  "horror",
  "sci-fi",
  "documentary",
  "animation",
  "romance",
  "action",
  "fantasy",
  "crime",
  "family",
] as const;

const RU_ZONES = [
  "Europe/Moscow",
  "Europe/Moscow",
  "Europe/Moscow",
  "Europe/Moscow",
  "Asia/Novosibirsk",
  "Asia/Yekaterinburg",
  "Europe/Kaliningrad",
  "Asia/Vladivostok",
];
const EN_ZONES = ["Europe/Berlin", "America/New_York", "Europe/London", "America/Los_Angeles", "Europe/Berlin"];

const RU_MALE = ["Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Иван", "Михаил", "Никита", "Егор"];
const RU_FEMALE = ["Анна", "Мария", "Елена", "Ольга", "Наталья", "Екатерина", "Татьяна", "Дарья", "Ксения", "Алиса"];
// Masculine surnames; the feminine form adds "а" (Иванов -> Иванова).
const RU_SURNAMES = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков"];
const EN_FIRST = ["James", "Olivia", "Liam", "Emma", "Noah", "Ava", "Lukas", "Mia", "Ethan", "Sophie", "Jonas", "Grace"];
const EN_LAST = ["Smith", "Johnson", "Brown", "Miller", "Wilson", "Taylor", "Schmidt", "Müller", "Anderson", "Clark", "Walker", "Wright"];

const DAY_MS = 86_400_000;
const CREATED_BASE = Date.UTC(2023, 0, 1);

/** One row of demo_users, in column order of {@link USER_COLUMNS}. */
export interface FakeUser {
  seq: number;
  id: string;
  email: string;
  name: string;
  locale: string;
  timeZone: string;
  favouriteGenres: string[];
  phone: string;
  birthday: string | null;
  subscriptionExpiresAt: Date | null;
  createdAt: Date;
}

export function userIdFor(seq: number): string {
  return `u${seq}`;
}

export function makeFakeUser(seq: number, now: number): FakeUser {
  const rnd = mulberry32(seq * 2654435761);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];

  const ru = rnd() < 0.6;
  const female = rnd() < 0.5;
  const name = ru
    ? `${pick(female ? RU_FEMALE : RU_MALE)} ${pick(RU_SURNAMES)}${female ? "а" : ""}`
    : `${pick(EN_FIRST)} ${pick(EN_LAST)}`;

  const genres = new Set<string>();
  const genreCount = 1 + Math.floor(rnd() * 3);
  while (genres.size < genreCount) genres.add(pick(GENRES));

  const phone = rnd() < 0.85 ? `+79${String(Math.floor(rnd() * 1e9)).padStart(9, "0")}` : "";
  let birthday: string | null = null;
  if (rnd() < 0.9) {
    const year = 1960 + Math.floor(rnd() * 49);
    birthday = new Date(Date.UTC(year, 0, 1) + Math.floor(rnd() * 365) * DAY_MS).toISOString().slice(0, 10);
  }
  // About a third of users hold a subscription that ends some time in the next 60 days.
  const subscriptionExpiresAt = rnd() < 0.35 ? new Date(now + Math.floor(rnd() * 60 * DAY_MS)) : null;
  const createdAt = new Date(CREATED_BASE + Math.floor(rnd() * 700 * DAY_MS));

  return {
    seq,
    id: userIdFor(seq),
    email: `user${seq}@example.test`,
    name,
    locale: ru ? "ru" : "en",
    timeZone: pick(ru ? RU_ZONES : EN_ZONES),
    favouriteGenres: [...genres],
    phone,
    birthday,
    subscriptionExpiresAt,
    createdAt,
  };
}

/** Small, fast, seedable PRNG; quality is plenty for demo data. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
