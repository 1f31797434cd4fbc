import './index.css';
import './states.css';
