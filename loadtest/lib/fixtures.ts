import { randomBytes } from 'node:crypto';
import { type Api, pool } from './api.js';

export interface Account {
  id: string;
  email: string;
  accessToken: string;
}

interface AuthData {
  user: { id: string; email: string; role: string };
  accessToken: string;
}

export interface EventData {
  id: string;
  totalTickets: number;
  availableTickets: number;
  status: string;
}

export interface Availability {
  eventId: string;
  totalTickets: number;
  availableTickets: number;
  confirmedTickets: number;
  heldTickets: number;
  ticketTypes?: { ticketTypeId: string; name: string; capacity: number; confirmedTickets: number; heldTickets: number; availableTickets: number }[];
}

export interface BookingData {
  id: string;
  eventId: string;
  userId: string;
  quantity: number;
  items?: { ticketTypeId: string; quantity: number }[];
  status: string;
  tickets: { number: string | number }[];
  user?: { id: string; email: string };
}

const PASSWORD = `lt-${randomBytes(8).toString('hex')}`;

export async function register(api: Api, email: string, name: string): Promise<Account> {
  const data = await api.data<AuthData>('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, name } });
  return { id: data.user.id, email: data.user.email, accessToken: data.accessToken };
}

export async function login(api: Api, email: string, password: string): Promise<Account> {
  const data = await api.data<AuthData>('POST', '/api/v1/auth/login', { body: { email, password } });
  return { id: data.user.id, email: data.user.email, accessToken: data.accessToken };
}

/**
 * An organizer the way a real one comes to be: it registers, the admin (ADMIN_EMAIL/ADMIN_PASSWORD,
 * created by the service at start-up) promotes it, and it logs in again so its token carries the role.
 */
export async function createOrganizer(api: Api, admin: { email: string; password: string } | null, runId: string): Promise<Account> {
  if (!admin) throw new Error('an organizer needs the admin account: set ADMIN_EMAIL and ADMIN_PASSWORD of the target service');
  const adminAccount = await login(api, admin.email, admin.password);
  const email = `organizer-${runId}@example.com`;
  const organizer = await register(api, email, 'Load Organizer');
  await api.data('PATCH', `/api/v1/users/${organizer.id}/role`, { token: adminAccount.accessToken, body: { role: 'organizer' } });
  return login(api, email, PASSWORD);
}

/** `count` customer accounts, registered concurrently through the API. */
export async function registerBuyers(api: Api, count: number, runId: string, concurrency = 32): Promise<Account[]> {
  const indexes = Array.from({ length: count }, (_, i) => i);
  return pool(indexes, concurrency, (i) => register(api, `buyer-${runId}-${i}@example.com`, `Buyer ${i}`));
}

export interface EventInput {
  name: string;
  totalTickets: number;
  price: number;
  category?: string;
  maxTicketsPerBooking?: number;
  startsInDays?: number;
}

export async function createEvent(api: Api, organizer: Account, input: EventInput): Promise<EventData> {
  const startsAt = new Date(Date.now() + (input.startsInDays ?? 30) * 24 * 3600 * 1000).toISOString();
  return api.data<EventData>('POST', '/api/v1/events', {
    token: organizer.accessToken,
    body: {
      name: input.name,
      venue: 'Load Test Arena',
      description: 'An event created by the load scripts',
      category: input.category ?? 'concert',
      startsAt,
      totalTickets: input.totalTickets,
      price: input.price,
      currency: 'EUR',
      maxTicketsPerBooking: input.maxTicketsPerBooking ?? 10,
      status: 'published',
    },
  });
}

export function availability(api: Api, eventId: string): Promise<Availability> {
  return api.data<Availability>('GET', `/api/v1/events/${eventId}/availability`);
}

export function eventBookings(api: Api, organizer: Account, eventId: string): Promise<BookingData[]> {
  return api.all<BookingData>(`/api/v1/events/${eventId}/bookings`, organizer.accessToken);
}

export function newRunId(): string {
  return randomBytes(4).toString('hex');
}
