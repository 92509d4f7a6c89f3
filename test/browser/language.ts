/**
 * The pages' languages as a test reads them: the same catalogues (web/src/locales) through
 * i18next, so a test asserts what a reader of that language sees, and a string missing from one
 * catalogue fails where it shows.
 */
import { readFileSync } from 'node:fs';
import i18next, { type TFunction } from 'i18next';

export const LANGUAGES = ['en', 'de'] as const;
export type Language = (typeof LANGUAGES)[number];

/** the browser locale and time zone a reader of each language has */
export const BROWSER_LOCALE: Record<Language, { locale: string; timezoneId: string }> = {
  en: { locale: 'en-US', timezoneId: 'America/New_York' },
  de: { locale: 'de-DE', timezoneId: 'Europe/Berlin' },
};

const catalogue = (language: Language) => JSON.parse(readFileSync(`web/src/locales/${language}.json`, 'utf8')) as Record<string, unknown>;

export function translator(language: Language): TFunction {
  const instance = i18next.createInstance();
  void instance.init({ lng: language, resources: { [language]: { translation: catalogue(language) } }, interpolation: { escapeValue: false }, initAsync: false });
  // a missing key would come back as itself: a test must not pass on that
  return ((key: string, options?: Record<string, unknown>) => {
    if (!instance.exists(key, options)) throw new Error(`no ${language} string for ${key}`);
    return instance.t(key, options);
  }) as TFunction;
}

/** the text of a catalogue string as a pattern, its {{values}} matching anything */
export function pattern(text: string): RegExp {
  return new RegExp(text.split(/\{\{[^}]+\}\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*'));
}
