/**
 * Classification levels of the Law on Protection of State Secrets (Luật Bảo vệ bí mật nhà nước 2018):
 * Mật < Tối mật < Tuyệt mật, and unclassified documents below them. Codes are ASCII for configuration
 * and APIs; names are what people read.
 */
import { TrucError } from '../../errors.js';

export const LEVELS = ['unclassified', 'mat', 'toi-mat', 'tuyet-mat'] as const;
export type Level = (typeof LEVELS)[number];

export const LEVEL_NAME: Record<Level, string> = {
  unclassified: 'Không mật (unclassified)',
  mat: 'Mật (confidential)',
  'toi-mat': 'Tối mật (secret)',
  'tuyet-mat': 'Tuyệt mật (top secret)',
};

/** ESS security-classification values (RFC 2634 §5.4.2.2 numbering: unclassified 1 … top-secret 5). */
export const ESS_CLASSIFICATION: Record<Level, number> = { unclassified: 1, mat: 3, 'toi-mat': 4, 'tuyet-mat': 5 };

export const rank = (l: Level): number => LEVELS.indexOf(l);

export function parseLevel(s: unknown): Level {
  if (typeof s === 'string' && (LEVELS as readonly string[]).includes(s)) return s as Level;
  throw new TrucError('bad_request', `unknown classification level ${JSON.stringify(s)} (one of ${LEVELS.join(', ')})`);
}

export const isClassified = (l: Level): boolean => l !== 'unclassified';
