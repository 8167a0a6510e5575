/** What every template gets: who it goes to, the event, and the booking it is about (if any). */
export interface EmailContext {
  recipientName: string;
  event: { name: string; venue: string; startsAt: string | null };
  booking: {
    id: string;
    quantity: number;
    totalPrice: number;
    currency: string;
    expiresAt: string | null;
    tickets: { number: string }[];
  } | null;
}
