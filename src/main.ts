// Entry point of the bundle and of the single executable.
import { main } from './cli';

void main();
