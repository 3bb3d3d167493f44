// The dashboard's entry: mounts the app with its session and router.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

import { App } from './App';
import { SessionProvider } from './auth/SessionProvider';
import { AppRouter } from './routing';
import './styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <AppRouter>
      <SessionProvider>
        <App />
      </SessionProvider>
    </AppRouter>
  </StrictMode>,
);
