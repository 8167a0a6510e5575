import { type Connection, type HydratedDocument, type InferSchemaType, Schema, type Types } from 'mongoose';

export const ROLES = ['customer', 'organizer', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const isRole = (value: unknown): value is Role => (ROLES as readonly unknown[]).includes(value);

const userSchema = new Schema(
  {
    /** Stored normalised (trimmed, lower case) so uniqueness is case-insensitive. */
    email: { type: String, required: true, unique: true, lowercase: true, trim: true },
    name: { type: String, required: true, trim: true },
    role: { type: String, enum: ROLES, default: 'customer' },
    passwordHash: { type: String, required: true },
  },
  { timestamps: true, versionKey: false },
);

export type UserFields = InferSchemaType<typeof userSchema> & { _id: Types.ObjectId };
export type UserDocument = HydratedDocument<UserFields>;

export function userModel(conn: Connection) {
  return conn.model<UserFields>('User', userSchema);
}
export type UserModel = ReturnType<typeof userModel>;
