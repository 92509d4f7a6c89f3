/**
 * The pages' languages: English and German, every string in web/src/locales/<language>.json.
 * The language is the browser's (navigator.languages) unless the reader picked one, which is
 * remembered in this browser. Dates and times follow the browser's locale and time zone
 * (formats.ts), whatever language the words are in.
 */
import i18next from 'i18next';
import LanguageDetector from 'i18next-browser-languagedetector';
import { initReactI18next } from 'react-i18next';
import de from './locales/de.json';
import en from './locales/en.json';

export const LANGUAGES = { en: 'English', de: 'Deutsch' } as const;
export type Language = keyof typeof LANGUAGES;

void i18next.use(LanguageDetector).use(initReactI18next).init({
  resources: { en: { translation: en }, de: { translation: de } },
  supportedLngs: Object.keys(LANGUAGES),
  nonExplicitSupportedLngs: true,
  fallbackLng: 'en',
  interpolation: { escapeValue: false },
  detection: { order: ['localStorage', 'navigator'], lookupLocalStorage: 'pgcomply.language', caches: ['localStorage'] },
  returnNull: false,
});

// a screen reader reads the words in their language
const markLanguage = (language: string) => { document.documentElement.lang = language.slice(0, 2); };
markLanguage(i18next.resolvedLanguage ?? 'en');
i18next.on('languageChanged', markLanguage);

export default i18next;
